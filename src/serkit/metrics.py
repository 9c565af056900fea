"""Metrics every SER paper reports: WA, UA, macro P/R/F1, per class, per speaker, per gender."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class JsonView:
    """`obj["key"]` and `obj.get("key")` read the JSON view (`to_dict()`), as the untyped dicts these types
    replaced did; the attributes are the typed way in."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


@dataclasses.dataclass(frozen=True)
class ClassScores(JsonView):
    """Precision, recall and F1 of one class, and how many files of it were scored."""

    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support}


@dataclasses.dataclass(frozen=True)
class Scores(JsonView):
    """What one set of predictions scores: WA, UA, macro P/R/F1, per class, and (when asked) UA per speaker and
    per gender. `to_dict()` is its JSON, in the key order reports write."""

    n: int
    wa: float
    ua: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_class: Mapping[str, ClassScores]
    ua_per_speaker: Mapping[str, float] | None = None
    ua_per_gender: Mapping[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "wa": self.wa,
            "ua": self.ua,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_class": {c: s.to_dict() for c, s in self.per_class.items()},
        }
        if self.ua_per_speaker is not None:
            out["ua_per_speaker"] = dict(self.ua_per_speaker)
        if self.ua_per_gender is not None:
            out["ua_per_gender"] = dict(self.ua_per_gender)
        return out


def compute_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    *,
    speakers: Sequence[str] | None = None,
    genders: Sequence[str | None] | None = None,
) -> Scores:
    """WA = accuracy; UA = mean per-class recall (balanced accuracy) over classes present in y_true."""
    from sklearn.metrics import precision_recall_fscore_support

    yt, yp = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    labels = list(labels)
    present = [c for c in labels if np.any(yt == c)]
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(yt, yp, labels=present, average="macro", zero_division=0)
    by_group: dict[str, dict[str, float] | None] = {"ua_per_speaker": None, "ua_per_gender": None}
    for key, groups in (("ua_per_speaker", speakers), ("ua_per_gender", genders)):
        if groups is None:
            continue
        g = np.asarray([x if isinstance(x, str) else "unknown" for x in groups], dtype=object)
        by_group[key] = {str(k): unweighted_accuracy(yt[g == k], yp[g == k]) for k in sorted(set(g))}
    return Scores(
        n=int(len(yt)),
        wa=float(np.mean(yt == yp)) if len(yt) else 0.0,
        ua=unweighted_accuracy(yt[np.isin(yt, present)], yp[np.isin(yt, present)]),
        macro_precision=float(pm),
        macro_recall=float(rm),
        macro_f1=float(fm),
        per_class={c: ClassScores(float(p[i]), float(r[i]), float(f[i]), int(s[i])) for i, c in enumerate(labels)},
        **by_group,
    )


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA: the mean over the classes present in y_true of their recall (the one implementation)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes])) if len(classes) else 0.0


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(list(y_true), list(y_pred), labels=list(labels))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=0))
