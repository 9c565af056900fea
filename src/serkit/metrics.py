"""Metrics every SER paper reports: WA, UA, macro P/R/F1, per class, per speaker, per gender."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def compute_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    *,
    speakers: Sequence[str] | None = None,
    genders: Sequence[str | None] | None = None,
) -> dict:
    """WA = accuracy; UA = mean per-class recall (balanced accuracy) over classes present in y_true."""
    from sklearn.metrics import precision_recall_fscore_support

    yt, yp = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    labels = list(labels)
    present = [c for c in labels if np.any(yt == c)]
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
    pm, rm, fm, _ = precision_recall_fscore_support(yt, yp, labels=present, average="macro", zero_division=0)
    out: dict = {
        "n": int(len(yt)),
        "wa": float(np.mean(yt == yp)) if len(yt) else 0.0,
        "ua": unweighted_accuracy(yt[np.isin(yt, present)], yp[np.isin(yt, present)]),
        "macro_precision": float(pm),
        "macro_recall": float(rm),
        "macro_f1": float(fm),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(labels)
        },
    }
    for key, groups in (("ua_per_speaker", speakers), ("ua_per_gender", genders)):
        if groups is None:
            continue
        g = np.asarray([x if isinstance(x, str) else "unknown" for x in groups], dtype=object)
        out[key] = {str(k): unweighted_accuracy(yt[g == k], yp[g == k]) for k in sorted(set(g))}
    return out


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
