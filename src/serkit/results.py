"""What an evaluation produces, as types: folds, per-fold and per-model metrics, and the evaluation's result.

These live below both the cross-validation loop (`evaluation.py`) and what writes and prints them
(`reports.py`, the CLI), so neither has to import the other to name them. Metrics are frozen
dataclasses; `to_dict()` gives the JSON they are written as (the key order of `metrics.json`), and
`m["ua"]` reads that JSON view (`metrics.JsonView`), so scripts written against the dicts keep working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from serkit.metrics import JsonView, Scores, mean_std

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from serkit.experiment import ExperimentConfig
    from serkit.feature_table import FeatureTable

__all__ = ["EvaluationResult", "Fold", "FoldMetrics", "ModelMetrics", "ModelResult", "Score"]

# The headline scores every evaluation summarises over its folds, in the order metrics.json lists them.
SCORES = ("ua", "wa", "macro_f1", "macro_precision", "macro_recall")


@dataclasses.dataclass(frozen=True)
class Fold:
    """One train/test split of a protocol: row indices into the evaluation's table."""

    index: int
    train: np.ndarray
    test: np.ndarray
    name: str = ""  # the held-out corpus, for leave-one-corpus-out
    labels: tuple[str, ...] = ()  # classes scored in this fold (both sides' shared classes); () = all


@dataclasses.dataclass(frozen=True)
class Score(JsonView):
    """One score over the folds: its mean, standard deviation and value in each fold."""

    mean: float
    std: float
    per_fold: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "per_fold": list(self.per_fold)}


@dataclasses.dataclass(frozen=True)
class FoldMetrics(JsonView):
    """The metrics of one fold: its scores, plus the fold's cost and name."""

    scores: Scores
    seconds: float
    name: str = ""  # the held-out corpus, when the fold has one
    epochs: int | None = None  # epochs a torch model trained for (early stopping)

    @property
    def ua(self) -> float:
        return self.scores.ua

    def to_dict(self) -> dict[str, Any]:
        out = {**self.scores.to_dict(), "seconds": self.seconds}
        if self.name:
            out["name"] = self.name
        if self.epochs is not None:
            out["epochs"] = self.epochs
        return out


@dataclasses.dataclass(frozen=True)
class ModelMetrics(JsonView):
    """One model's metrics over an evaluation: each headline score over the folds, the pooled predictions'
    metrics, each corpus' share (several corpora only), every fold's, and the mean fold time."""

    ua: Score
    wa: Score
    macro_f1: Score
    macro_precision: Score
    macro_recall: Score
    pooled: Scores  # of all test predictions together
    folds: tuple[FoldMetrics, ...]
    seconds_per_fold: float
    per_corpus: Mapping[str, Mapping[str, Any]] | None = None

    @classmethod
    def of(
        cls, folds: Sequence[FoldMetrics], *, pooled: Scores, per_corpus: Mapping[str, Mapping[str, Any]] | None = None
    ) -> ModelMetrics:
        """Summarise the folds: mean and (population) standard deviation of each score."""
        scores = {}
        for key in SCORES:
            values = [getattr(f.scores, key) for f in folds]
            mean, std = mean_std(values)
            scores[key] = Score(mean, std, tuple(values))
        return cls(
            **scores,
            pooled=pooled,
            folds=tuple(folds),
            seconds_per_fold=mean_std([f.seconds for f in folds])[0],
            per_corpus=per_corpus,
        )

    def score(self, key: str) -> Score:
        """A headline score by name (`ua`, `wa`, `macro_f1`, `macro_precision`, `macro_recall`)."""
        if key not in SCORES:
            from serkit.errors import UnknownNameError

            raise UnknownNameError("score", key, SCORES)
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: self.score(key).to_dict() for key in SCORES}
        out["pooled"] = self.pooled.to_dict()
        if self.per_corpus is not None:
            out["per_corpus"] = self.per_corpus
        out["folds"] = [f.to_dict() for f in self.folds]
        out["seconds_per_fold"] = self.seconds_per_fold
        return out


@dataclasses.dataclass(frozen=True)
class ModelResult:
    """One model's evaluation: its metrics, every test prediction, the label set and each fold's time."""

    model: str
    metrics: ModelMetrics
    predictions: pd.DataFrame
    labels: list[str]
    fold_seconds: list[float]


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """An evaluation of one or more models under one protocol, and the features behind it.

    Attributes:
        config: What was evaluated.
        protocol_label: The protocol in words, as reports print it.
        scheme: How the folds were made, in words.
        results: Model name -> its per-fold and pooled scores and predictions.
        n_files: How many files were evaluated.
        skipped: (path, reason) of every file left out.
        feature_seconds: Time spent extracting features.
        folds: The folds: which rows trained and which tested.
        table: The features behind it; pass it to `evaluate(table=...)` to skip extraction next time.
    """

    config: ExperimentConfig
    protocol_label: str
    scheme: str
    results: dict[str, ModelResult]
    n_files: int
    skipped: list[tuple[str, str]]
    feature_seconds: float
    folds: list[Fold] = dataclasses.field(default_factory=list)
    table: FeatureTable | None = dataclasses.field(default=None, repr=False)  # the features behind it

    @property
    def best(self) -> str:
        """The model with the highest mean UA."""
        return max(self.results, key=lambda m: self.results[m].metrics.ua.mean)
