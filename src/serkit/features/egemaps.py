"""openSMILE functionals: eGeMAPSv02 (88 values), the standard paralinguistic baseline, and
ComParE 2016 (6,373 values), the brute-force set of the Interspeech paralinguistics challenges."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import ClassVar

import numpy as np

from serkit.audio import SAMPLE_RATE
from serkit.errors import MissingExtraError
from serkit.features.base import FeatureConfig, FeatureExtractor, FeatureKind


@lru_cache(maxsize=2)
def _smile(feature_set: str):  # one openSMILE instance per process: building it is slow
    try:
        import opensmile
    except ImportError:
        raise MissingExtraError("opensmile", f"the openSMILE feature set {feature_set}") from None
    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


@dataclasses.dataclass(frozen=True)
class EgemapsConfig(FeatureConfig):
    feature_set: str = "eGeMAPSv02"


class Egemaps(FeatureExtractor):
    name = "egemaps"
    kind = FeatureKind.VECTOR
    config_class: ClassVar[type[EgemapsConfig | CompareConfig]] = EgemapsConfig
    config: EgemapsConfig | CompareConfig

    def extract(self, signal: np.ndarray) -> np.ndarray:
        values = _smile(self.config.feature_set).process_signal(signal, SAMPLE_RATE).to_numpy()
        return np.nan_to_num(values[0].astype(np.float32))


@dataclasses.dataclass(frozen=True)
class CompareConfig(FeatureConfig):
    feature_set: str = "ComParE_2016"


class Compare(Egemaps):
    """Many more functionals over many more descriptors than eGeMAPS: a linear model picks."""

    name = "compare"
    config_class = CompareConfig
