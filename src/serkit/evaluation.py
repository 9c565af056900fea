"""Honest evaluation: speaker-independent cross-validation by default, leave-one-corpus-out on request.

Everything fitted — normalisation statistics, scalers, augmentation, early stopping, the
model — sees only the training part of each fold. Test-side statistics are used only where
the protocol says so and the label says so (per-speaker normalisation, adaptation on
unlabelled files of an unseen corpus). The random protocol exists for comparison with papers
and is always labelled "speaker-dependent (optimistic)".
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serkit.errors import ConfigError, DataError
from serkit.experiment import PROTOCOL_LABELS, ExperimentConfig, Protocol, RunOptions
from serkit.feature_table import FeatureTable, TrainingRows, load_table
from serkit.metrics import compute_metrics
from serkit.results import EvaluationResult, Fold, FoldMetrics, ModelMetrics, ModelResult

__all__ = [
    "PROTOCOL_LABELS",
    "EvaluationResult",
    "FeatureTable",
    "Fold",
    "FoldJob",
    "FoldOutput",
    "ModelResult",
    "Protocol",
    "evaluate",
    "load_table",
    "make_folds",
    "normalise_fold",
]


def make_folds(table: pd.DataFrame, protocol: Protocol, *, n_folds: int = 5, seed: int = 0) -> tuple[list[Fold], str]:
    """Folds for one table; returns (folds, a human description of the scheme)."""
    y = table["emotion"].to_numpy()
    idx = np.arange(len(table))
    if len(set(y)) < 2:
        raise DataError(f"the data has only one emotion class ({y[0] if len(y) else 'none'}); need at least 2")
    if protocol is Protocol.SPEAKER:
        if table["speaker"].isna().any():
            n = int(table["speaker"].isna().sum())
            example = table.loc[table["speaker"].isna(), "path"].iloc[0]
            raise DataError(
                f"the speaker protocol needs a speaker for every file; {n} file(s) have none (e.g. {example}); "
                "use a corpus reader or a manifest with a speaker column, or protocol='random'",
                params=("protocol",),
            )
        groups = table["speaker"].to_numpy()
        n_speakers = len(set(groups))
        if n_speakers < 2:
            raise DataError(f"the speaker protocol needs at least 2 speakers; the data has {n_speakers}")
        if n_speakers > 10:
            from sklearn.model_selection import StratifiedGroupKFold

            k = min(n_folds, n_speakers)
            splits = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(idx, y, groups)
            scheme = f"StratifiedGroupKFold k={k} by speaker (seed {seed}), {n_speakers} speakers"
        else:
            from sklearn.model_selection import LeaveOneGroupOut

            splits = LeaveOneGroupOut().split(idx, y, groups)
            scheme = f"leave-one-speaker-out, {n_speakers} speakers"
    elif protocol is Protocol.RANDOM:
        from sklearn.model_selection import StratifiedKFold

        counts = pd.Series(y).value_counts()
        if counts.min() < n_folds:
            raise ConfigError(
                f"folds={n_folds} is more than the files of the rarest class "
                f"({counts.idxmin()}: {counts.min()}); use folds={max(2, int(counts.min()))} or fewer",
                params=("folds",),
            )
        splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(idx, y)
        scheme = f"stratified random {n_folds}-fold (seed {seed}): speakers shared between train and test"
    elif protocol is Protocol.CORPUS:
        return _corpus_folds(table)
    else:
        raise ConfigError(
            "the cross protocol has no folds; it trains on data and tests on test_data", params=("data", "test_data")
        )
    return [Fold(i, np.asarray(tr), np.asarray(te)) for i, (tr, te) in enumerate(splits)], scheme


def _corpus_folds(table: pd.DataFrame) -> tuple[list[Fold], str]:
    """Leave-one-corpus-out: each corpus is tested on a model trained on all the others, on the classes both
    sides have; no file of the held-out corpus is in its training part."""
    from serkit.labels import ordered

    domains = table["domain"].to_numpy()
    y = table["emotion"].to_numpy()
    folds = []
    for i, d in enumerate(dict.fromkeys(domains.tolist())):
        held = domains == d
        shared = ordered(set(y[held]) & set(y[~held]))
        if len(shared) < 2:
            raise DataError(
                f"corpus {d} shares fewer than 2 classes with the other corpora "
                f"({', '.join(shared) or 'none'}); leave-one-corpus-out cannot score it"
            )
        keep = np.isin(y, shared)
        folds.append(Fold(i, np.flatnonzero(~held & keep), np.flatnonzero(held & keep), str(d), tuple(shared)))
    names = ", ".join(f.name for f in folds)
    return folds, f"leave-one-corpus-out over {len(folds)} corpora ({names}); each scored on the classes it shares"


@dataclasses.dataclass(frozen=True)
class FoldJob:
    """What one fold's fit-and-predict needs, sent as it is to a worker process.

    Attributes:
        model: the registry name of the model to build.
        params: its options.
        X_train: the (normalised) training rows.
        y_train: their emotions.
        groups: their speakers, for the model's own validation split.
        origin: the original file of each row, so augmented copies stay on one side of that split.
        X_test: the (normalised) test rows.
        seed: the model's random state.
    """

    model: str
    params: dict[str, Any]
    X_train: np.ndarray
    y_train: np.ndarray
    groups: np.ndarray
    origin: np.ndarray
    X_test: np.ndarray
    seed: int


@dataclasses.dataclass(frozen=True)
class FoldOutput:
    """What one fold's model returns: its classes, the test rows' probabilities, its time and, for a model
    trained by epochs, how many it ran."""

    classes: list[str]
    proba: np.ndarray
    seconds: float
    epochs: int | None = None


def run_fold(job: FoldJob) -> FoldOutput:
    """Fit one fold's model and predict its test rows; runs in a worker process, single-threaded."""
    from serkit.features.extract import limit_threads

    limit_threads()
    from serkit.models import build_model, get_model_spec

    t0 = time.perf_counter()
    model = build_model(job.model, random_state=job.seed, **job.params)
    get_model_spec(job.model).family.fit(model, job.X_train, job.y_train, groups=job.groups, origin=job.origin)
    proba = model.predict_proba(job.X_test)
    return FoldOutput(list(model.classes_), proba, time.perf_counter() - t0, getattr(model, "n_epochs_", None))


def normalise_fold(
    config: ExperimentConfig,
    train: TrainingRows,
    X_test: np.ndarray,
    test_speakers: np.ndarray,
    test_domains: np.ndarray,
    adaptation: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The fold's training and test X after the configured normalisation.

    Statistics of training domains come from their original (not augmented) training rows. A test row of a
    training corpus uses that corpus' training statistics; a test row of an unseen corpus uses the statistics
    of its adaptation rows when given (unlabelled files of that corpus), else the pooled training statistics.
    Per-speaker normalisation is transductive: each test speaker is z-scored with its own test files.
    """
    X_train, fitted = config.normalizer.fit(
        train.X, speakers=train.speakers, domains=train.domains, n_originals=train.n_originals
    )
    return X_train, fitted.transform_test(X_test, speakers=test_speakers, domains=test_domains, adaptation=adaptation)


def evaluate(
    config: ExperimentConfig,
    *,
    run: RunOptions | None = None,
    output: str | Path | None = None,
    table: FeatureTable | None = None,
) -> EvaluationResult:
    """Cross-validate the config's models on its data; write reports to `output` (a new or an earlier
    evaluation folder). `table` reuses features already extracted for this config.

    Needs the ``train`` extra.

    Args:
        config: What to evaluate: data, models, features, protocol, normalisation.
        run: How to run it (cache, workers, jobs, progress, scheduler); None for the defaults.
        output: The folder to write the reports to (new, or an earlier evaluation's); None writes nothing.
        table: Features already extracted for this config (an earlier result's `table`), to skip extraction.

    Returns:
        Every model's per-fold and pooled scores, the folds, and the features behind them.

    Raises:
        ConfigError: `output` exists and is not an earlier evaluation folder.
        CorpusError: a corpus cannot be read.
        DataError: the data cannot support the protocol (too few speakers, classes or files).
        MissingExtraError: a model or feature set needs an extra that is not installed.
    """
    from serkit.reports import check_report_folder, write_reports

    run = run or RunOptions()
    if output is not None:
        check_report_folder(Path(output))  # before any work, not after
    t0 = time.perf_counter()
    skipped: list[tuple[str, str]] = []
    if table is None:
        full, skipped = load_table(config)
        table = FeatureTable(full, config, run)
    ft = table
    if config.protocol is Protocol.CROSS:
        is_test, y = ft.is_test, ft.table["emotion"].to_numpy()
        train_rows = np.flatnonzero(~is_test)
        shared = tuple(c for c in _ordered(y[is_test]) if c in set(y[train_rows]))
        test_rows = np.flatnonzero(is_test & np.isin(y, shared))
        folds = [Fold(0, train_rows, test_rows, "test data", shared)]
        scheme = (
            f"train on {', '.join(config.data)}; test on {', '.join(config.test_data)}; {len(shared)} shared classes"
        )
    else:
        folds, scheme = make_folds(ft.table, config.protocol, n_folds=config.folds, seed=config.seed)
    feature_seconds = time.perf_counter() - t0

    label_set = _ordered(np.concatenate([ft.table["emotion"].to_numpy()[f.test] for f in folds]))
    adaptation = _adaptation_rows(ft, folds, config)
    results: dict[str, ModelResult] = {}
    from serkit.models import get_model_spec

    for model in config.models:
        spec = get_model_spec(model.name)
        params = config.model_params(model)
        jobs_list: list[FoldJob] = []
        for fold in folds:
            tr = ft.training_rows(spec.input, fold.train)
            X_test = ft.X(spec.input, fold.test)
            adapt = {d: ft.X(spec.input, rows) for d, rows in adaptation.get(fold.index, {}).items()}
            X_train, X_test = normalise_fold(
                config, tr, X_test, ft.column("speaker", fold.test), ft.column("domain", fold.test), adapt
            )
            jobs_list.append(FoldJob(model.name, params, X_train, tr.y, tr.speakers, tr.origin, X_test, config.seed))
        outs = _run_folds(jobs_list, jobs=run.jobs, desc=f"{model} folds", progress=run.progress)
        results[str(model)] = _collect(folds, outs, ft.table, label_set, str(model))

    used = len(set(np.concatenate([np.concatenate([f.train, f.test]) for f in folds]).tolist()))  # trained or scored
    result = EvaluationResult(
        config, config.protocol_label(), scheme, results, used, ft.skipped + skipped, feature_seconds, folds, ft
    )
    if output is not None:
        write_reports(result, Path(output))
    return result


def _ordered(values) -> list[str]:
    from serkit.labels import ordered

    return ordered(set(np.asarray(values).tolist()))


def _adaptation_rows(ft: FeatureTable, folds: list[Fold], config: ExperimentConfig) -> dict[int, dict[str, np.ndarray]]:
    """For each fold, a seeded random sample of `adapt_files` rows of each unseen test corpus: its unlabelled
    files whose statistics stand in for those `serkit adapt` computes on a user's recordings."""
    if not config.adapt_files:
        return {}
    domains = ft.column("domain", np.arange(len(ft.table)))
    rng = np.random.default_rng(config.seed)
    out: dict[int, dict[str, np.ndarray]] = {}
    for fold in folds:
        seen = set(domains[fold.train].tolist())
        out[fold.index] = {}
        for d in dict.fromkeys(domains[fold.test].tolist()):
            if d in seen:
                continue
            pool = np.flatnonzero(domains == d)  # every file of that corpus, whatever its (unused) label
            if len(pool) < config.adapt_files:
                raise DataError(
                    f"adapt_files={config.adapt_files}: corpus {d} has only {len(pool)} files", params=("adapt_files",)
                )
            out[fold.index][d] = np.sort(rng.choice(pool, size=config.adapt_files, replace=False))
    return out


def _run_folds(jobs_list: list[FoldJob], *, jobs: int, desc: str, progress: bool) -> list[FoldOutput]:
    from tqdm.auto import tqdm

    if jobs <= 1 or len(jobs_list) <= 1:
        return [run_fold(j) for j in tqdm(jobs_list, desc=desc, disable=not progress, leave=False)]
    from serkit.parallel import parallel_map

    return list(
        tqdm(
            parallel_map(run_fold, [(j,) for j in jobs_list], n_jobs=jobs),
            total=len(jobs_list),
            desc=desc,
            disable=not progress,
            leave=False,
        )
    )


def _collect(
    folds: list[Fold], outs: list[FoldOutput], table: pd.DataFrame, label_set: list[str], name: str
) -> ModelResult:
    fold_metrics, rows = [], []
    speakers = table["speaker"].fillna("?").to_numpy()
    genders = table["gender"].to_numpy()
    y_all = table["emotion"].to_numpy()
    tested = np.concatenate([f.test for f in folds])
    for fold, out in zip(folds, outs, strict=True):
        pred = np.asarray(out.classes, dtype=object)[out.proba.argmax(1)]
        yt = y_all[fold.test]
        scores = compute_metrics(
            yt, pred, list(fold.labels) or label_set, speakers=speakers[fold.test], genders=genders[fold.test]
        )
        fold_metrics.append(FoldMetrics(scores, out.seconds, fold.name, out.epochs))
        full = np.zeros((len(fold.test), len(label_set)))
        for j, c in enumerate(out.classes):
            if c in label_set:
                full[:, label_set.index(c)] = out.proba[:, j]
        frame = pd.DataFrame(
            {
                "path": pd.Series(table["path"].to_numpy()[fold.test], dtype=object),  # names need not be UTF-8
                "speaker": table["speaker"].to_numpy()[fold.test],
                "corpus": table["corpus"].to_numpy()[fold.test],
                "fold": fold.name or fold.index,
                "true": yt,
                "predicted": pred,
            }
        )
        for j, c in enumerate(label_set):
            frame[f"p_{c}"] = np.round(full[:, j], 6)
        rows.append(frame)
    predictions = pd.concat(rows, ignore_index=True)
    pooled = compute_metrics(
        predictions["true"],
        predictions["predicted"],
        label_set,
        speakers=predictions["speaker"].fillna("?"),
        genders=genders[tested],
    )
    per_corpus = None
    corpora = table["corpus"].to_numpy()[tested]
    if len(set(corpora)) > 1:
        # Each corpus' share of the test predictions (pooled over folds; one fold each under leave-one-corpus-out).
        per_corpus = {}
        for c in sorted(set(corpora)):
            k = corpora == c
            present = [x for x in label_set if x in set(predictions["true"][k])]
            m = compute_metrics(predictions["true"][k], predictions["predicted"][k], present)
            per_corpus[str(c)] = {"n": m.n, "ua": m.ua, "wa": m.wa, "macro_f1": m.macro_f1}
    metrics = ModelMetrics.of(fold_metrics, pooled=pooled, per_corpus=per_corpus)
    return ModelResult(name, metrics, predictions, label_set, [f.seconds for f in fold_metrics])


def evaluation_config(**kwargs: Any) -> tuple[ExperimentConfig, RunOptions]:
    """Split keyword options into the experiment (what) and the run (how); for scripts and tests."""
    run_fields = {f.name for f in dataclasses.fields(RunOptions)}
    run = RunOptions(**{k: v for k, v in kwargs.items() if k in run_fields})
    return ExperimentConfig(**{k: v for k, v in kwargs.items() if k not in run_fields}), run
