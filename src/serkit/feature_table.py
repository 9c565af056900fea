"""The features of an experiment's data, extracted once and shared by every model, fold and the final training.

`load_table` reads the config's corpora into one table of files; `FeatureTable` extracts (or reads from the
cache) their features, and hands out typed training rows and test matrices by row index. It sits below
both the cross-validation loop and training, which both read it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from serkit.errors import DataError
from serkit.experiment import ExperimentConfig, Protocol, RunOptions

__all__ = ["TEST_DOMAIN_PREFIX", "FeatureTable", "TrainingRows", "load_table"]

# The `domain` of a --test-data corpus under the cross protocol: `test:NAME`. It keeps a test corpus apart from
# a training corpus of the same kind (its own normalisation statistics) and says which rows are test rows.
TEST_DOMAIN_PREFIX = "test:"


@dataclasses.dataclass(frozen=True)
class TrainingRows:
    """The training side of one fold (or of the final training): originals first, then their augmented copies.

    Attributes:
        X: the feature rows, `n_originals` originals then each augmented copy of them in turn.
        y: each row's emotion.
        speakers: each row's speaker ("?" when unknown): validation splits and per-speaker statistics.
        domains: each row's corpus: per-corpus statistics.
        origin: for each row, the index of the original it comes from, so a model keeps copies of one
            file out of its validation part.
        n_originals: how many rows are originals; statistics come from these alone.
    """

    X: np.ndarray
    y: np.ndarray
    speakers: np.ndarray
    domains: np.ndarray
    origin: np.ndarray
    n_originals: int


class FeatureTable:
    """Features of a dataset, extracted once (cached) and shared by every model, fold and the final training."""

    def __init__(self, table: pd.DataFrame, config: ExperimentConfig, run: RunOptions) -> None:
        from serkit.features import extract_features
        from serkit.features.extract import Variant

        extractors = config.extractors()
        paths = table["path"].tolist()
        how = run.extraction()
        res = extract_features(paths, extractors, **how, desc="features")
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
                ares = extract_features(
                    kept, extractors, **how, variants=variants, desc=f"augmented copy {c + 1}/{config.augment_copies}"
                )
                if ares.failed:
                    i, reason = next(iter(ares.failed.items()))
                    raise DataError(f"{kept[i]}: augmentation failed: {reason}")
                self.aug_parts.append([ares.stacked(ex.name) for ex in extractors])
        if config.normalizer.needs_speakers and self.table["speaker"].isna().any():
            raise DataError(
                f"normalize={config.normalize.value!r} needs a speaker for every file", params=("normalize",)
            )

    def X(self, model_input: str, rows: np.ndarray | None = None, *, copy: int | None = None) -> np.ndarray:
        from serkit.features.assemble import assemble

        parts = self.parts if copy is None else self.aug_parts[copy]
        if rows is not None:
            parts = [p[rows] for p in parts]
        return assemble(model_input, parts)

    def column(self, name: str, rows: np.ndarray) -> np.ndarray:
        col = self.table[name] if name in self.table else pd.Series([None] * len(self.table))
        return col.fillna("?").to_numpy()[rows]

    @property
    def is_test(self) -> np.ndarray:
        """Which rows are --test-data files (the cross protocol): never trained on, whatever the fold."""
        return self.table["domain"].astype(str).str.startswith(TEST_DOMAIN_PREFIX).to_numpy()

    def training_rows(self, model_input: str, rows: np.ndarray) -> TrainingRows:
        """Training X, y, speakers, domains and origin (row of the original file) for one fold: originals
        first, then their augmented copies; never test rows. The origin lets a model keep augmented copies
        out of its validation part."""
        n_copies = len(self.aug_parts)
        return TrainingRows(
            X=np.concatenate(
                [self.X(model_input, rows)] + [self.X(model_input, rows, copy=c) for c in range(n_copies)]
            ),
            y=np.tile(self.table["emotion"].to_numpy()[rows], n_copies + 1),
            speakers=np.tile(self.column("speaker", rows), n_copies + 1),
            domains=np.tile(self.column("domain", rows), n_copies + 1),
            origin=np.tile(np.arange(len(rows)), n_copies + 1),
            n_originals=len(rows),
        )


def load_table(config: ExperimentConfig) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The files of the config's data (and test data), one row each, with a `domain` column naming its corpus
    (`test:NAME` for a test corpus), and the entries skipped while reading them."""
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
            raise DataError(
                f"test_data shares {len(overlap)} file(s) with data (e.g. {min(overlap)}); "
                "a cross-corpus test must not contain training files",
                params=("test_data", "data"),
            )
        table = table[table["emotion"].isin(shared)]
        table = pd.concat(
            [table, test_table.assign(domain=TEST_DOMAIN_PREFIX + test_table["domain"].astype(str))], ignore_index=True
        )
        skipped += [(s.path, s.reason) for c in test_ds.corpora for s in c.skipped]
    return table.reset_index(drop=True), skipped
