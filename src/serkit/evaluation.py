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
from serkit.experiment import PROTOCOL_LABELS, ExperimentConfig, Normalization, Protocol, RunOptions
from serkit.metrics import compute_metrics, mean_std

__all__ = ["PROTOCOL_LABELS", "EvaluationResult", "FeatureTable", "Fold", "ModelResult", "Protocol", "evaluate",
           "make_folds", "normalise_fold"]


@dataclasses.dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray
    test: np.ndarray
    name: str = ""  # the held-out corpus, for leave-one-corpus-out
    labels: tuple[str, ...] = ()  # classes scored in this fold (both sides' shared classes); () = all


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
                "use a corpus reader or a manifest with a speaker column, or --protocol random"
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
            raise ConfigError(f"--folds {n_folds} is more than the files of the rarest class "
                              f"({counts.idxmin()}: {counts.min()}); use --folds {max(2, int(counts.min()))} or fewer")
        splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(idx, y)
        scheme = f"stratified random {n_folds}-fold (seed {seed}): speakers shared between train and test"
    elif protocol is Protocol.CORPUS:
        return _corpus_folds(table)
    else:
        raise ConfigError("the cross protocol has no folds; it trains on --data and tests on --test-data")
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
            raise DataError(f"corpus {d} shares fewer than 2 classes with the other corpora "
                            f"({', '.join(shared) or 'none'}); leave-one-corpus-out cannot score it")
        keep = np.isin(y, shared)
        folds.append(Fold(i, np.flatnonzero(~held & keep), np.flatnonzero(held & keep), str(d), tuple(shared)))
    names = ", ".join(f.name for f in folds)
    return folds, f"leave-one-corpus-out over {len(folds)} corpora ({names}); each scored on the classes it shares"


def _fit_predict(model_name: str, params: dict, X_train, y_train, groups, origin, X_test, seed: int):
    """One fold: runs in a worker process, single-threaded."""
    from serkit.features.extract import limit_threads

    limit_threads()
    from serkit.models import build_model, get_model_spec

    t0 = time.perf_counter()
    model = build_model(model_name, random_state=seed, **params)
    get_model_spec(model_name).family.fit(model, X_train, y_train, groups=groups, origin=origin)
    proba = model.predict_proba(X_test)
    return list(model.classes_), proba, time.perf_counter() - t0, getattr(model, "n_epochs_", None)


@dataclasses.dataclass
class ModelResult:
    model: str
    metrics: dict
    predictions: pd.DataFrame
    labels: list[str]
    fold_seconds: list[float]


@dataclasses.dataclass
class EvaluationResult:
    config: ExperimentConfig
    protocol_label: str
    scheme: str
    results: dict[str, ModelResult]
    n_files: int
    skipped: list[tuple[str, str]]
    feature_seconds: float
    folds: list[Fold] = dataclasses.field(default_factory=list)
    table: "FeatureTable | None" = dataclasses.field(default=None, repr=False)  # the features behind it

    @property
    def best(self) -> str:
        return max(self.results, key=lambda m: self.results[m].metrics["ua"]["mean"])


class FeatureTable:
    """Features of a dataset, extracted once (cached) and shared by every model, fold and the final training."""

    def __init__(self, table: pd.DataFrame, config: ExperimentConfig, run: RunOptions) -> None:
        from serkit.features import extract_features
        from serkit.features.extract import Variant

        extractors = config.extractors()
        paths = table["path"].tolist()
        cache = run.cache()
        pool = run.pool()
        res = extract_features(paths, extractors, cache=cache, workers=run.workers, executor=pool,
                               progress=run.progress, desc="features")
        self.skipped = [(paths[i], reason) for i, reason in sorted(res.failed.items())]
        keep = [i for i in range(len(paths)) if i not in res.failed]
        self.table = table.iloc[keep].reset_index(drop=True)
        self.parts = [res.stacked(ex.name, keep) for ex in extractors]
        self.aug_parts: list[list[np.ndarray]] = []
        augment = ",".join(config.augment)
        if augment and config.augment_copies > 0:
            kept = self.table["path"].tolist()
            for c in range(config.augment_copies):
                variants = [Variant(augment, c, config.seed)] * len(kept)
                ares = extract_features(kept, extractors, cache=cache, workers=run.workers, executor=pool,
                                        progress=run.progress, variants=variants,
                                        desc=f"augmented copy {c + 1}/{config.augment_copies}")
                if ares.failed:
                    i, reason = next(iter(ares.failed.items()))
                    raise DataError(f"{kept[i]}: augmentation failed: {reason}")
                self.aug_parts.append([ares.stacked(ex.name) for ex in extractors])
        if config.normalize is Normalization.SPEAKER and self.table["speaker"].isna().any():
            raise DataError("--normalize speaker needs a speaker for every file")

    def X(self, model_input: str, rows: np.ndarray | None = None, *, copy: int | None = None) -> np.ndarray:
        from serkit.features.assemble import assemble

        parts = self.parts if copy is None else self.aug_parts[copy]
        if rows is not None:
            parts = [p[rows] for p in parts]
        return assemble(model_input, parts)

    def column(self, name: str, rows: np.ndarray) -> np.ndarray:
        col = self.table[name] if name in self.table else pd.Series([None] * len(self.table))
        return col.fillna("?").to_numpy()[rows]

    def training_rows(self, model_input: str, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Training X, y, speakers, domains and origin (row of the original file) for one fold: originals
        first, then their augmented copies; never test rows. The origin lets a model keep augmented copies
        out of its validation part."""
        n_copies = len(self.aug_parts)
        return {
            "X": np.concatenate([self.X(model_input, rows)] + [self.X(model_input, rows, copy=c)
                                                               for c in range(n_copies)]),
            "y": np.tile(self.table["emotion"].to_numpy()[rows], n_copies + 1),
            "speakers": np.tile(self.column("speaker", rows), n_copies + 1),
            "domains": np.tile(self.column("domain", rows), n_copies + 1),
            "origin": np.tile(np.arange(len(rows)), n_copies + 1),
            "n_originals": np.asarray(len(rows)),
        }


def normalise_fold(config: ExperimentConfig, train: dict[str, np.ndarray], X_test: np.ndarray,
                   test_speakers: np.ndarray, test_domains: np.ndarray,
                   adaptation: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The fold's training and test X after the configured normalisation.

    Statistics of training domains come from their original (not augmented) training rows. A test row of a
    training corpus uses that corpus' training statistics; a test row of an unseen corpus uses the statistics
    of its adaptation rows when given (unlabelled files of that corpus), else the pooled training statistics.
    Per-speaker normalisation is transductive: each test speaker is z-scored with its own test files.
    """
    from serkit import normalization as nz

    X, n = train["X"], int(train["n_originals"])
    if config.normalize is Normalization.NONE:
        return X, X_test
    key = "speakers" if config.normalize is Normalization.SPEAKER else "domains"
    X_train, stats = nz.normalise_training(X, train[key], n)
    if config.normalize is Normalization.SPEAKER:
        return X_train, nz.apply_groups(X_test, test_speakers, nz.by_group(X_test, test_speakers))
    pooled = nz.Stats.of(X[:n])
    test_stats = {d: stats.get(d) or (nz.Stats.of(adaptation[d]) if adaptation and d in adaptation else pooled)
                  for d in dict.fromkeys(test_domains.tolist())}
    return X_train, nz.apply_groups(X_test, test_domains, test_stats)


def evaluate(config: ExperimentConfig, *, run: RunOptions | None = None, output: str | Path | None = None,
             table: FeatureTable | None = None) -> EvaluationResult:
    """Cross-validate the config's models on its data; write reports to `output` (a new or an earlier
    evaluation folder). `table` reuses features already extracted for this config."""
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
        part, y = ft.table["_part"].to_numpy(), ft.table["emotion"].to_numpy()
        train_rows = np.flatnonzero(part == "train")
        shared = tuple(c for c in _ordered(y[part == "test"]) if c in set(y[train_rows]))
        test_rows = np.flatnonzero((part == "test") & np.isin(y, shared))
        folds = [Fold(0, train_rows, test_rows, "test data", shared)]
        scheme = (f"train on {', '.join(config.data)}; test on {', '.join(config.test_data)}; "
                  f"{len(shared)} shared classes")
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
        jobs_list = []
        for fold in folds:
            tr = ft.training_rows(spec.input, fold.train)
            X_test = ft.X(spec.input, fold.test)
            adapt = {d: ft.X(spec.input, rows) for d, rows in adaptation.get(fold.index, {}).items()}
            X_train, X_test = normalise_fold(config, tr, X_test, ft.column("speaker", fold.test),
                                             ft.column("domain", fold.test), adapt)
            jobs_list.append((model.name, params, X_train, tr["y"], tr["speakers"], tr["origin"], X_test,
                              config.seed))
        outs = _run_folds(jobs_list, jobs=run.jobs, desc=f"{model} folds", progress=run.progress)
        results[str(model)] = _collect(folds, outs, ft.table, label_set, str(model))

    used = len(set(np.concatenate([np.concatenate([f.train, f.test]) for f in folds]).tolist()))  # trained or scored
    result = EvaluationResult(config, config.protocol_label(), scheme, results, used,
                              ft.skipped + skipped, feature_seconds, folds, ft)
    if output is not None:
        write_reports(result, Path(output))
    return result


def _ordered(values) -> list[str]:
    from serkit.labels import ordered

    return ordered(set(np.asarray(values).tolist()))


def load_table(config: ExperimentConfig) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The files of the config's data (and test data), one row each, with a `domain` column naming its corpus."""
    import os

    from serkit.corpora import load_dataset

    ds = load_dataset(list(config.data), labels=config.labels)
    table = ds.table
    skipped = [(s.path, s.reason) for c in ds.corpora for s in c.skipped]
    if config.protocol is Protocol.CROSS:
        test_ds = load_dataset(list(config.test_data), labels=config.labels)
        shared = [c for c in ds.labels if c in set(test_ds.labels)]
        if len(shared) < 2:
            raise DataError(f"train and test data share fewer than 2 classes ({', '.join(shared) or 'none'})")
        # Every test file stays in the table: the scored ones are those of the shared classes, but adaptation
        # (--adapt-files) draws its unlabelled files from all of them, so no label chooses that sample.
        test_table = test_ds.table
        overlap = set(map(os.path.realpath, table["path"])) & set(map(os.path.realpath, test_table["path"]))
        if overlap:
            raise DataError(f"--test-data shares {len(overlap)} file(s) with --data (e.g. {sorted(overlap)[0]}); "
                            "a cross-corpus test must not contain training files")
        table = table[table["emotion"].isin(shared)]
        table = pd.concat([table.assign(_part="train"),
                           test_table.assign(_part="test", domain="test:" + test_table["domain"].astype(str))],
                          ignore_index=True)
        skipped += [(s.path, s.reason) for c in test_ds.corpora for s in c.skipped]
    return table.reset_index(drop=True), skipped


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
                raise DataError(f"--adapt-files {config.adapt_files}: corpus {d} has only {len(pool)} files")
            out[fold.index][d] = np.sort(rng.choice(pool, size=config.adapt_files, replace=False))
    return out


def _run_folds(jobs_list: list[tuple], *, jobs: int, desc: str, progress: bool) -> list[tuple]:
    from tqdm.auto import tqdm

    if jobs <= 1 or len(jobs_list) <= 1:
        return [_fit_predict(*j) for j in tqdm(jobs_list, desc=desc, disable=not progress, leave=False)]
    from serkit.parallel import parallel_map

    return list(tqdm(parallel_map(_fit_predict, jobs_list, n_jobs=jobs), total=len(jobs_list), desc=desc,
                     disable=not progress, leave=False))


def _collect(folds: list[Fold], outs: list[tuple], table: pd.DataFrame, label_set: list[str],
             name: str) -> ModelResult:
    fold_metrics, rows, seconds = [], [], []
    speakers = table["speaker"].fillna("?").to_numpy()
    genders = table["gender"].to_numpy()
    y_all = table["emotion"].to_numpy()
    tested = np.concatenate([f.test for f in folds])
    for fold, (classes, proba, secs, n_epochs) in zip(folds, outs, strict=True):
        pred = np.asarray(classes, dtype=object)[proba.argmax(1)]
        yt = y_all[fold.test]
        m = compute_metrics(yt, pred, list(fold.labels) or label_set, speakers=speakers[fold.test],
                            genders=genders[fold.test])
        m["seconds"] = secs
        if fold.name:
            m["name"] = fold.name
        if n_epochs is not None:
            m["epochs"] = n_epochs
        fold_metrics.append(m)
        seconds.append(secs)
        full = np.zeros((len(fold.test), len(label_set)))
        for j, c in enumerate(classes):
            if c in label_set:
                full[:, label_set.index(c)] = proba[:, j]
        frame = pd.DataFrame({
            "path": pd.Series(table["path"].to_numpy()[fold.test], dtype=object),  # names need not be UTF-8
            "speaker": table["speaker"].to_numpy()[fold.test],
            "corpus": table["corpus"].to_numpy()[fold.test],
            "fold": fold.name or fold.index,
            "true": yt,
            "predicted": pred,
        })
        for j, c in enumerate(label_set):
            frame[f"p_{c}"] = np.round(full[:, j], 6)
        rows.append(frame)
    predictions = pd.concat(rows, ignore_index=True)
    pooled = compute_metrics(predictions["true"], predictions["predicted"], label_set,
                             speakers=predictions["speaker"].fillna("?"), genders=genders[tested])
    summary: dict[str, Any] = {}
    for key in ("ua", "wa", "macro_f1", "macro_precision", "macro_recall"):
        mean, std = mean_std([m[key] for m in fold_metrics])
        summary[key] = {"mean": mean, "std": std, "per_fold": [m[key] for m in fold_metrics]}
    summary["pooled"] = pooled
    corpora = table["corpus"].to_numpy()[tested]
    if len(set(corpora)) > 1:
        # Each corpus' share of the test predictions (pooled over folds; one fold each under leave-one-corpus-out).
        summary["per_corpus"] = {}
        for c in sorted(set(corpora)):
            k = corpora == c
            present = [x for x in label_set if x in set(predictions["true"][k])]
            m = compute_metrics(predictions["true"][k], predictions["predicted"][k], present)
            summary["per_corpus"][str(c)] = {key: m[key] for key in ("n", "ua", "wa", "macro_f1")}
    summary["folds"] = fold_metrics
    summary["seconds_per_fold"] = mean_std(seconds)[0]
    return ModelResult(name, summary, predictions, label_set, seconds)


def evaluation_config(**kwargs: Any) -> tuple[ExperimentConfig, RunOptions]:
    """Split keyword options into the experiment (what) and the run (how); for scripts and tests."""
    run_fields = {f.name for f in dataclasses.fields(RunOptions)}
    run = RunOptions(**{k: v for k, v in kwargs.items() if k in run_fields})
    return ExperimentConfig(**{k: v for k, v in kwargs.items() if k not in run_fields}), run

