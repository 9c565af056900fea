"""Feature extractors behind one interface, a registry by name, a disk cache and parallel extraction."""

from __future__ import annotations

from serkit.features.base import (
    EXTRACTORS,
    FEATURE_VERSION,
    FeatureConfig,
    FeatureExtractor,
    FeatureKind,
    feature_names,
    get_extractor,
    register,
)
from serkit.features.cache import FeatureCache, default_cache_dir
from serkit.features.extract import ExtractionResult, Variant, extract_features


def _spectral(name: str):
    def load():
        from serkit.features import spectral

        return {
            "spectral_stats": spectral.SpectralStats,
            "mfcc_matrix": spectral.MfccMatrix,
            "logmel": spectral.LogMel,
        }[name]

    return load


def _egemaps():
    from serkit.features.egemaps import Egemaps

    return Egemaps


def _compare():
    from serkit.features.egemaps import Compare

    return Compare


def _whisper():
    from serkit.features.whisper import WhisperEncoderFeatures

    return WhisperEncoderFeatures


for _n in ("spectral_stats", "mfcc_matrix", "logmel"):
    register(_n, _spectral(_n))
register("egemaps", _egemaps)
register("compare", _compare)
register("whisper_encoder", _whisper)

__all__ = [
    "EXTRACTORS",
    "FEATURE_VERSION",
    "ExtractionResult",
    "FeatureCache",
    "FeatureConfig",
    "FeatureExtractor",
    "FeatureKind",
    "Variant",
    "default_cache_dir",
    "extract_features",
    "feature_names",
    "get_extractor",
    "register",
]
