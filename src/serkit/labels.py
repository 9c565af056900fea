"""The unified emotion vocabulary and the policies for merging corpora's label sets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from serkit.errors import ConfigError, UnknownNameError


class Emotion(str, Enum):
    """The one closed label set every corpus is mapped onto."""

    NEUTRAL = "neutral"
    CALM = "calm"
    HAPPY = "happy"
    SAD = "sad"
    ANGRY = "angry"
    FEARFUL = "fearful"
    DISGUST = "disgust"
    SURPRISED = "surprised"
    BOREDOM = "boredom"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


EMOTIONS: tuple[str, ...] = tuple(e.value for e in Emotion)

# Synonyms seen in corpus labels and user files; anything else must be an Emotion value.
_SYNONYMS = {
    "joy": "happy",
    "happiness": "happy",
    "anger": "angry",
    "fear": "fearful",
    "anxiety": "fearful",
    "anxiety/fear": "fearful",
    "sadness": "sad",
    "surprise": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant surprise": "surprised",
    "ps": "surprised",
    "disgusted": "disgust",
    "bored": "boredom",
    "boring": "boredom",
}


def normalise_label(label: str) -> str:
    """Map a free-form label onto the unified set, or raise listing the valid ones."""
    key = str(label).strip().lower()
    key = _SYNONYMS.get(key, key)
    if key not in EMOTIONS:
        raise UnknownNameError("emotion label", label, EMOTIONS)
    return key


def ordered(labels: Iterable[str]) -> list[str]:
    """Labels in the canonical Emotion order (stable columns in every report)."""
    present = set(labels)
    known = [e for e in EMOTIONS if e in present]
    return known + sorted(present - set(known))


class LabelPolicy(str, Enum):
    UNION = "union"
    INTERSECTION = "intersection"


def resolve_label_set(policy: str, per_corpus: Sequence[set[str]]) -> list[str]:
    """Which labels to keep when merging corpora: union, intersection or an explicit list."""
    if not per_corpus:
        return []
    value = str(policy).strip().lower()
    if value == LabelPolicy.UNION.value:
        keep = set().union(*per_corpus)
    elif value == LabelPolicy.INTERSECTION.value:
        keep = set.intersection(*map(set, per_corpus))
        if not keep:
            raise ConfigError(
                "the corpora share no emotion label; labels='intersection' keeps nothing", params=("labels",)
            )
    else:
        keep = {normalise_label(x) for x in value.split(",") if x.strip()}
        if not keep:
            raise ConfigError(
                f"labels={policy!r} names no label; use union, intersection or LABEL,LABEL,...", params=("labels",)
            )
    return ordered(keep)
