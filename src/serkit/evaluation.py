"""Honest evaluation: speaker-independent cross-validation by default, reports on disk.

Everything fitted — scalers, augmentation, early stopping, the model — sees only the
training part of each fold. The random protocol exists for comparison with papers
and is always labelled "speaker-dependent (optimistic)".
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serkit.errors import ConfigError, DataError
from serkit.metrics import compute_metrics, confusion, mean_std


class Protocol(str, Enum):
    SPEAKER = "speaker"
    RANDOM = "random"
    CROSS = "cross"


PROTOCOL_LABELS = {
    Protocol.SPEAKER: "speaker-independent",
    Protocol.RANDOM: "speaker-dependent (optimistic)",
    Protocol.CROSS: "cross-corpus",
}


def parse_protocol(value: str | Protocol) -> Protocol:
    try:
        return Protocol(value)
    except ValueError:
        from serkit.errors import UnknownNameError

        raise UnknownNameError("protocol", value, [p.value for p in Protocol]) from None


@dataclasses.dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray
    test: np.ndarray


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

            splitter = StratifiedGroupKFold(n_splits=min(n_folds, n_speakers), shuffle=True, random_state=seed)
            splits = splitter.split(idx, y, groups)
            scheme = f"StratifiedGroupKFold k={min(n_folds, n_speakers)} by speaker (seed {seed}), {n_speakers} speakers"
        else:
            from sklearn.model_selection import LeaveOneGroupOut

            splits = LeaveOneGroupOut().split(idx, y, groups)
            scheme = f"leave-one-speaker-out, {n_speakers} speakers"
    elif protocol is Protocol.RANDOM:
        from sklearn.model_selection import StratifiedKFold

        splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(idx, y)
        scheme = f"stratified random {n_folds}-fold (seed {seed}): speakers shared between train and test"
    else:
        raise ConfigError("the cross protocol has no folds; it trains on --data and tests on --test-data")
    return [Fold(i, np.asarray(tr), np.asarray(te)) for i, (tr, te) in enumerate(splits)], scheme


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Everything that defines an evaluation run; saved in metrics.json."""

    models: tuple[str, ...]
    features: tuple[str, ...]
    protocol: str = "speaker"
    labels: str = "union"
    n_folds: int = 5
    seed: int = 0
    augment: str = ""
    augment_copies: int = 1
    epochs: int | None = None
    jobs: int = 2
    speaker_norm: bool = False


def _fit_predict(model_name: str, params: dict, X_train, y_train, groups, X_test, seed: int, origin=None):
    """One fold: runs in a worker process, single-threaded."""
    from serkit.features.extract import limit_threads

    limit_threads()
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    from serkit.models import build_model, get_model_spec

    t0 = time.perf_counter()
    model = build_model(model_name, random_state=seed, **params)
    if get_model_spec(model_name).family == "torch":
        model.fit(X_train, y_train, groups=groups, origin=origin)
    else:
        model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)
    classes = list(model.classes_)
    return classes, proba, time.perf_counter() - t0, getattr(model, "n_epochs_", None)


@dataclasses.dataclass
class ModelResult:
    model: str
    metrics: dict
    predictions: pd.DataFrame
    labels: list[str]
    fold_seconds: list[float]


@dataclasses.dataclass
class EvaluationResult:
    config: EvalConfig
    protocol_label: str
    scheme: str
    results: dict[str, ModelResult]
    n_files: int
    skipped: list[tuple[str, str]]
    feature_seconds: float

    @property
    def best(self) -> str:
        return max(self.results, key=lambda m: self.results[m].metrics["ua"]["mean"])


class FeatureTable:
    """Features of a dataset, extracted once (cached) and shared by every model and fold."""

    def __init__(self, table: pd.DataFrame, features: Sequence[str], *, cache, workers: int | None, progress: bool,
                 augment: str = "", copies: int = 0, seed: int = 0, speaker_norm: bool = False) -> None:
        from serkit.features import extract_features, get_extractor
        from serkit.features.extract import Variant

        self.features = list(features)
        self.kinds = {n: get_extractor(n).kind.value for n in self.features}
        paths = table["path"].tolist()
        res = extract_features(paths, self.features, cache=cache, workers=workers, progress=progress, desc="features")
        self.skipped = [(paths[i], reason) for i, reason in sorted(res.failed.items())]
        keep = [i for i in range(len(paths)) if i not in res.failed]
        self.table = table.iloc[keep].reset_index(drop=True)
        self.parts = [res.stacked(n, keep) for n in self.features]
        self.aug_parts: list[list[np.ndarray]] = []
        if augment and copies > 0:
            kept = self.table["path"].tolist()
            for c in range(copies):
                variants = [Variant(augment, c, seed)] * len(kept)
                ares = extract_features(kept, self.features, cache=cache, workers=workers, progress=progress,
                                        variants=variants, desc=f"augmented copy {c + 1}/{copies}")
                if ares.failed:
                    i, reason = next(iter(ares.failed.items()))
                    raise DataError(f"{kept[i]}: augmentation failed: {reason}")
                self.aug_parts.append([ares.stacked(n) for n in self.features])
        if speaker_norm:
            if self.table["speaker"].isna().any():
                raise DataError("--speaker-norm needs a speaker for every file")
            speakers = self.table["speaker"].to_numpy()
            stats = [speaker_stats(p, speakers) for p in self.parts]
            self.parts = [apply_speaker_stats(p, speakers, st) for p, st in zip(self.parts, stats, strict=True)]
            self.aug_parts = [[apply_speaker_stats(p, speakers, st) for p, st in zip(ps, stats, strict=True)]
                              for ps in self.aug_parts]

    def X(self, model_input: str, rows: np.ndarray | None = None, *, copy: int | None = None) -> np.ndarray:
        from serkit.features.assemble import assemble

        parts = self.parts if copy is None else self.aug_parts[copy]
        if rows is not None:
            parts = [p[rows] for p in parts]
        return assemble(model_input, parts)


def speaker_stats(values: np.ndarray, speakers: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-speaker mean and std of each feature, from that speaker's own (unlabelled) files."""
    return {s: (values[speakers == s].mean(axis=0), values[speakers == s].std(axis=0) + 1e-6)
            for s in np.unique(speakers)}


def apply_speaker_stats(values: np.ndarray, speakers: np.ndarray, stats: dict) -> np.ndarray:
    out = np.empty_like(values)
    for s, (mean, std) in stats.items():
        k = speakers == s
        out[k] = (values[k] - mean) / std
    return out


def _train_rows(ft: FeatureTable, model_input: str, train: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training X, y, speakers and origin (row of the original file) for one fold: originals plus
    their augmented copies, never test rows. The origin lets the model keep augmented copies out
    of its validation part."""
    X = [ft.X(model_input, train)]
    y = [ft.table["emotion"].to_numpy()[train]]
    g = [ft.table["speaker"].fillna("?").to_numpy()[train]]
    origin = [np.arange(len(train))]
    for c in range(len(ft.aug_parts)):
        X.append(ft.X(model_input, train, copy=c))
        y.append(y[0])
        g.append(g[0])
        origin.append(origin[0])
    return np.concatenate(X), np.concatenate(y), np.concatenate(g), np.concatenate(origin)


def evaluate(
    data: Sequence[str] | str,
    *,
    models: Sequence[str] | str = ("logreg",),
    features: Sequence[str] | str = ("spectral_stats",),
    protocol: str = "speaker",
    test_data: Sequence[str] | str | None = None,
    labels: str = "union",
    n_folds: int = 5,
    seed: int = 0,
    augment: str | None = None,
    augment_copies: int = 1,
    epochs: int | None = None,
    speaker_norm: bool = False,
    output: str | Path | None = None,
    cache_dir: str | Path | None = None,
    no_cache: bool = False,
    workers: int | None = None,
    jobs: int = 2,
    progress: bool = True,
) -> EvaluationResult:
    """Cross-validate one or more models on one or more corpora; write reports to `output`."""
    from serkit.augment import parse_augmentations
    from serkit.corpora import load_dataset
    from serkit.features import FeatureCache, parse_feature_names
    from serkit.features.assemble import check_compatible
    from serkit.models import get_model_spec, parse_model_names

    data = [data] if isinstance(data, str) else list(data)
    model_names = parse_model_names(models)
    feature_names = parse_feature_names(features)
    proto = parse_protocol(protocol)
    augs = parse_augmentations(augment)
    aug_spec = ",".join(a.value for a in augs)
    if augment_copies < 0:
        raise ConfigError(f"--augment-copies must be >= 0, got {augment_copies}")
    if n_folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {n_folds}")
    from serkit.features import get_extractor

    kinds = {n: get_extractor(n).kind.value for n in feature_names}
    for m in model_names:
        check_compatible(m, get_model_spec(m).input, feature_names, kinds)
    if augs and all(a.value == "specaugment" for a in augs) and "matrix" not in kinds.values():
        raise ConfigError("--augment specaugment masks 2-D features only (mfcc_matrix, logmel); "
                          f"{'+'.join(feature_names)} would get identical copies")
    cfg = EvalConfig(tuple(model_names), tuple(feature_names), proto.value, labels, n_folds, seed, aug_spec,
                     augment_copies if aug_spec else 0, epochs, jobs, speaker_norm)
    cache = None if no_cache else FeatureCache(cache_dir)

    t0 = time.perf_counter()
    ds = load_dataset(data, labels=labels)
    table = ds.table
    test_table = None
    if proto is Protocol.CROSS:
        if not test_data:
            raise ConfigError("--protocol cross needs --test-data")
        test_ds = load_dataset([test_data] if isinstance(test_data, str) else list(test_data), labels=labels)
        shared = [c for c in ds.labels if c in set(test_ds.labels)]
        if len(shared) < 2:
            raise DataError(f"train and test data share fewer than 2 classes ({', '.join(shared) or 'none'})")
        table = table[table["emotion"].isin(shared)].reset_index(drop=True)
        test_table = test_ds.table[test_ds.table["emotion"].isin(shared)].reset_index(drop=True)
        import os

        overlap = set(map(os.path.realpath, table["path"])) & set(map(os.path.realpath, test_table["path"]))
        if overlap:
            raise DataError(f"--test-data shares {len(overlap)} file(s) with --data (e.g. {sorted(overlap)[0]}); "
                            "a cross-corpus test must not contain training files")
    label_set = [c for c in ds.labels if c in set(table["emotion"])]

    if test_table is not None:
        both = pd.concat([table.assign(_part="train"), test_table.assign(_part="test")], ignore_index=True)
        ft = FeatureTable(both, feature_names, cache=cache, workers=workers, progress=progress,
                          augment=aug_spec, copies=cfg.augment_copies, seed=seed, speaker_norm=speaker_norm)
        part = ft.table["_part"].to_numpy()
        folds = [Fold(0, np.flatnonzero(part == "train"), np.flatnonzero(part == "test"))]
        tests = [test_data] if isinstance(test_data, str) else list(test_data)
        scheme = f"train on {', '.join(data)}; test on {', '.join(tests)}; {len(label_set)} shared classes"
    else:
        ft = FeatureTable(table, feature_names, cache=cache, workers=workers, progress=progress,
                          augment=aug_spec, copies=cfg.augment_copies, seed=seed, speaker_norm=speaker_norm)
        folds, scheme = make_folds(ft.table, proto, n_folds=n_folds, seed=seed)
    feature_seconds = time.perf_counter() - t0

    y_all = ft.table["emotion"].to_numpy()
    results: dict[str, ModelResult] = {}
    for name in model_names:
        spec = get_model_spec(name)
        params: dict[str, Any] = {}
        if spec.family == "torch":
            if epochs is not None:
                params["epochs"] = epochs
        jobs_list = []
        for fold in folds:
            X_train, y_train, g_train, origin = _train_rows(ft, spec.input, fold.train)
            jobs_list.append((name, params, X_train, y_train, g_train, ft.X(spec.input, fold.test), seed, origin))
        outs = _run_folds(jobs_list, jobs=jobs, desc=f"{name} folds", progress=progress)
        results[name] = _collect(name, folds, outs, ft.table, y_all, label_set)

    label = PROTOCOL_LABELS[proto] + (" + per-speaker normalisation" if speaker_norm else "")
    result = EvaluationResult(cfg, label, scheme, results, len(ft.table), ft.skipped + [
        (s.path, s.reason) for c in ds.corpora for s in c.skipped], feature_seconds)
    if output is not None:
        write_reports(result, Path(output))
    return result


def _run_folds(jobs_list: list[tuple], *, jobs: int, desc: str, progress: bool) -> list[tuple]:
    from tqdm.auto import tqdm

    if jobs <= 1 or len(jobs_list) <= 1:
        return [_fit_predict(*j) for j in tqdm(jobs_list, desc=desc, disable=not progress, leave=False)]
    from serkit.parallel import parallel_map

    return list(tqdm(parallel_map(_fit_predict, jobs_list, n_jobs=jobs), total=len(jobs_list), desc=desc,
                     disable=not progress, leave=False))


def _collect(name: str, folds: list[Fold], outs: list[tuple], table: pd.DataFrame, y_all: np.ndarray,
             label_set: list[str]) -> ModelResult:
    fold_metrics, rows, seconds = [], [], []
    speakers = table["speaker"].fillna("?").to_numpy()
    genders = table["gender"].to_numpy()
    corpora_all = table["corpus"].to_numpy()
    tested = np.concatenate([f.test for f in folds])
    for fold, (classes, proba, secs, n_epochs) in zip(folds, outs, strict=True):
        pred = np.asarray(classes, dtype=object)[proba.argmax(1)]
        yt = y_all[fold.test]
        m = compute_metrics(yt, pred, label_set, speakers=speakers[fold.test], genders=genders[fold.test])
        m["seconds"] = secs
        if n_epochs is not None:
            m["epochs"] = n_epochs
        fold_metrics.append(m)
        seconds.append(secs)
        full = np.zeros((len(fold.test), len(label_set)))
        for j, c in enumerate(classes):
            if c in label_set:
                full[:, label_set.index(c)] = proba[:, j]
        frame = pd.DataFrame({
            "path": table["path"].to_numpy()[fold.test],
            "speaker": table["speaker"].to_numpy()[fold.test],
            "fold": fold.index,
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
    corpora = corpora_all[tested]
    if len(set(corpora)) > 1:
        # Each corpus' share of the merged CV's test predictions (pooled over folds).
        summary["per_corpus"] = {
            str(c): {k: v for k, v in compute_metrics(predictions["true"][corpora == c],
                                                      predictions["predicted"][corpora == c],
                                                      [x for x in label_set if x in set(predictions["true"][corpora == c])]
                                                      ).items() if k in ("n", "ua", "wa", "macro_f1")}
            for c in sorted(set(corpora))
        }
    summary["folds"] = fold_metrics
    summary["seconds_per_fold"] = mean_std(seconds)[0]
    return ModelResult(name, summary, predictions, label_set, seconds)


def _atomic_text(path: Path, text: str) -> None:
    from serkit.io import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


def write_reports(result: EvaluationResult, out: Path) -> None:
    """metrics.json, classification_report.csv, confusion_matrix.png, predictions.csv
    (per model in a sub-folder when several), model_selection.csv for several models."""
    out.mkdir(parents=True, exist_ok=True)
    several = len(result.results) > 1
    for name, r in result.results.items():
        _write_model_reports(result, r, out / name if several else out)
    if several:
        best = result.best
        rows = []
        for name, r in result.results.items():
            m = r.metrics
            rows.append({
                "model": name,
                "features": "+".join(result.config.features),
                "protocol": result.protocol_label,
                "ua_mean": round(m["ua"]["mean"], 4), "ua_std": round(m["ua"]["std"], 4),
                "wa_mean": round(m["wa"]["mean"], 4), "wa_std": round(m["wa"]["std"], 4),
                "macro_f1_mean": round(m["macro_f1"]["mean"], 4), "macro_f1_std": round(m["macro_f1"]["std"], 4),
                "seconds_per_fold": round(m["seconds_per_fold"], 2),
                "best": "*" if name == best else "",
            })
        frame = pd.DataFrame(rows).sort_values("ua_mean", ascending=False)
        _atomic_text(out / "model_selection.csv", frame.to_csv(index=False))
        _write_model_reports(result, result.results[best], out)


def _write_model_reports(result: EvaluationResult, r: ModelResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": r.model,
        "features": list(result.config.features),
        "protocol": result.config.protocol,
        "protocol_label": result.protocol_label,
        "scheme": result.scheme,
        "labels": r.labels,
        "n_files": result.n_files,
        "ua": r.metrics["ua"]["mean"], "ua_std": r.metrics["ua"]["std"],
        "wa": r.metrics["wa"]["mean"], "wa_std": r.metrics["wa"]["std"],
        "macro_f1": r.metrics["macro_f1"]["mean"], "macro_f1_std": r.metrics["macro_f1"]["std"],
        "macro_precision": r.metrics["macro_precision"]["mean"],
        "macro_recall": r.metrics["macro_recall"]["mean"],
        "per_fold": {k: r.metrics[k]["per_fold"] for k in ("ua", "wa", "macro_f1")},
        "folds": r.metrics["folds"],
        "pooled": r.metrics["pooled"],
        "per_corpus": r.metrics.get("per_corpus"),
        "seconds_per_fold": r.metrics["seconds_per_fold"],
        "feature_seconds": result.feature_seconds,
        "config": dataclasses.asdict(result.config),
        "skipped": [{"path": p, "reason": why} for p, why in result.skipped],
    }
    _atomic_text(out / "metrics.json", json.dumps(payload, indent=2))
    pooled = r.metrics["pooled"]["per_class"]
    rows = [{"class": c, **{k: round(v, 4) if isinstance(v, float) else v for k, v in pooled[c].items()}} for c in r.labels]
    rows.append({"class": "macro avg", "precision": round(r.metrics["pooled"]["macro_precision"], 4),
                 "recall": round(r.metrics["pooled"]["macro_recall"], 4), "f1": round(r.metrics["pooled"]["macro_f1"], 4),
                 "support": int(sum(pooled[c]["support"] for c in r.labels))})
    _atomic_text(out / "classification_report.csv", pd.DataFrame(rows).to_csv(index=False))
    _atomic_text(out / "predictions.csv", r.predictions.to_csv(index=False))
    from serkit.plots import plot_confusion

    cm = confusion(r.predictions["true"], r.predictions["predicted"], r.labels)
    plot_confusion(cm, r.labels, out / "confusion_matrix.png",
                   title=f"{r.model} on {'+'.join(result.config.features)} — {result.protocol_label}\n"
                         f"UA {r.metrics['ua']['mean']:.1%} ± {r.metrics['ua']['std']:.1%}")
