"""A throwaway corpus, feature set and model, each added to serkit from this one module.

This is what docs/extending.md walks through: a corpus is a `CorpusReader` with a `CorpusInfo` (its name,
language, licence and aliases), a feature set a `FeatureExtractor` with a frozen config class, and a model a
`ModelSpec` with a frozen options dataclass. Nothing else in serkit is edited; `register()` makes all three
known by name (the command line, model cards and bundles find them from there) and `unregister()` forgets them.
tests/test_extending.py runs them end to end through the real command line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from serkit.corpora import READERS, CorpusInfo, CorpusReader, register_corpus
from serkit.features import EXTRACTORS, FeatureConfig, FeatureExtractor, FeatureKind
from serkit.features import register as register_features
from serkit.models import MODELS, ModelSpec, option, register_model
from serkit.models.families import SKLEARN
from serkit.validation import Bound

CORPUS, FEATURES, MODEL = "toy", "toy_bands", "toy_tree"
EMOTIONS = {"hap": "happy", "sad": "sad", "ang": "angry"}  # the toy corpus' own labels -> serkit's


# -- a corpus: its naming scheme (toy-s01-hap-0.wav) and what is known about it ---------------------
class ToyCorpus(CorpusReader):
    """`toy-SPEAKER-LABEL-TAKE.wav`: speaker, then the corpus' own three-letter label."""

    info = CorpusInfo(CORPUS, language="xx", language_name="Toyish",
                      licence="TOY: generated test data, research use only", commercial_use=False,
                      aliases=("toy-corpus",))
    labels = EMOTIONS
    _re = re.compile(r"toy-(s\d\d)-([a-z]{3})-(\d+)")

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None or m.group(2) not in EMOTIONS:
            return None
        speaker, label, _ = m.groups()
        return {"speaker": self.speaker_id(speaker), "gender": None, "label": label, "emotion": EMOTIONS[label]}


# -- a feature set: log energy in equal-width frequency bands ----------------------------------------
@dataclasses.dataclass(frozen=True)
class BandsConfig(FeatureConfig):
    bands: int = 16  # how many equal-width bands from 0 to 8 kHz

    def validate(self, name: str) -> None:
        Bound(int, 2, 256).check(f"{name} option bands", self.bands)


class ToyBands(FeatureExtractor):
    name = FEATURES
    kind = FeatureKind.VECTOR
    config_class = BandsConfig

    def extract(self, signal: np.ndarray) -> np.ndarray:
        power = np.abs(np.fft.rfft(signal)) ** 2
        bands = np.array_split(power, self.config.bands)
        return np.log1p(np.array([b.sum() for b in bands], dtype=np.float64)).astype(np.float32)


# -- a model: a shallow decision tree, with its one option declared once ------------------------------
@dataclasses.dataclass(frozen=True)
class ToyTreeOptions:
    max_depth: int = option(4, Bound(int, 1, 64))


def build_toy_tree(random_state: int = 0, **options: int):
    from sklearn.tree import DecisionTreeClassifier

    o = ToyTreeOptions(**options)
    return DecisionTreeClassifier(max_depth=o.max_depth, class_weight="balanced", random_state=random_state)


def register() -> None:
    """Make the corpus, the feature set and the model known to serkit by name."""
    register_corpus(ToyCorpus)
    register_features(FEATURES, lambda: ToyBands)
    register_model(ModelSpec(MODEL, SKLEARN, "vector", build_toy_tree, "a shallow decision tree (example plug-in)",
                             ToyTreeOptions))


def unregister() -> None:
    """Forget them again (tests leave the registries as they found them)."""
    READERS.remove(CORPUS)
    EXTRACTORS.remove(FEATURES)
    MODELS.remove(MODEL)
