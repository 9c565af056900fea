"""Train one model on all the data and write a bundle, evaluated first so its card has honest scores.

A model trained on several corpora is also evaluated leave-one-corpus-out (and, with per-corpus
normalisation, adapted on 30 unlabelled files of each held-out corpus): how it does on recordings
from elsewhere is the headline figure of its card, beside the within-corpus one.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from serkit.bundle import BundleConfig, check_output, evaluation_folder_name, save_bundle
from serkit.experiment import ExperimentConfig, Protocol, RunOptions
from serkit.results import EvaluationResult

CARD_ADAPT_FILES = 30  # unlabelled files per held-out corpus for the card's adapted figure


def card_evaluations(config: ExperimentConfig, corpus_sizes: dict[str, int]) -> list[ExperimentConfig]:
    """The evaluations behind a card: the configured protocol, then leave-one-corpus-out over several corpora,
    unadapted and (per-corpus normalisation) adapted on up to 30 unlabelled files of each held-out corpus —
    fewer when a corpus is smaller, none below the 10 that adaptation needs."""
    from serkit.normalization import MIN_ADAPT_FILES

    out = [config]
    several = len(corpus_sizes) >= 2 and config.protocol is not Protocol.CROSS
    if several and config.protocol is not Protocol.CORPUS:
        out.append(dataclasses.replace(config, protocol=Protocol.CORPUS))
    n = min([CARD_ADAPT_FILES, *corpus_sizes.values()])
    if several and config.normalizer.can_adapt and n >= MIN_ADAPT_FILES:
        out.append(dataclasses.replace(config, protocol=Protocol.CORPUS, adapt_files=n))
    return list(dict.fromkeys(out))


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """A written bundle and what its card says: the evaluations behind it, in the order the card lists them.

    Attributes:
        path: the bundle folder.
        model: the trained model, as `evaluations[i].results` names it.
        evaluations: the evaluations run before training (none with `evaluate=False`).
        train_seconds: the final fit's time.
        skipped: (path, reason) of every entry of the data left out (unreadable, outside a naming scheme).
    """

    path: Path
    model: str
    evaluations: tuple[EvaluationResult, ...]
    train_seconds: float
    skipped: tuple[tuple[str, str], ...] = ()


def train(
    config: ExperimentConfig, output: str | Path, *, run: RunOptions | None = None, evaluate: bool = True
) -> Path:
    """Evaluate (unless evaluate=False), then fit the config's one model on all its data; returns the bundle.

    See `train_bundle` for the evaluations behind it as objects. Needs the ``train`` extra.

    Args:
        config: What to train; its one model.
        output: The bundle folder to write (new, or an earlier bundle's).
        run: How to run it (cache, workers, progress); None for the defaults.
        evaluate: Run the card's evaluations first, so the card has honest scores.

    Returns:
        The bundle folder written.

    Raises:
        ConfigError: the config names more than one model.
        BundleError: `output` exists and is not a bundle folder.
        CorpusError: a corpus cannot be read.
        DataError: the data cannot support training or the evaluations.
        MissingExtraError: a model or feature set needs an extra that is not installed.
    """
    return train_bundle(config, output, run=run, evaluate=evaluate).path


def train_bundle(
    config: ExperimentConfig, output: str | Path, *, run: RunOptions | None = None, evaluate: bool = True
) -> TrainingResult:
    """Evaluate (unless evaluate=False), then fit the config's one model on all its data and write the bundle.

    Args:
        config: what to train; its one model.
        output: the bundle folder to write (new, or an earlier bundle's).
        run: how to run it (cache, workers, progress).
        evaluate: run the card's evaluations first, so the card has honest scores.

    Returns:
        The bundle's path and the evaluations behind its card, for callers (the CLI) that print them
        without reading metrics.json back.

    Raises:
        ConfigError: the config names more than one model.
        BundleError: `output` exists and is not a bundle folder.
        CorpusError: a corpus cannot be read.
        DataError: the data cannot support training or the evaluations.
        MissingExtraError: a model or feature set needs an extra that is not installed.
    """
    from serkit.evaluation import evaluate as run_evaluation
    from serkit.feature_table import FeatureTable, load_table
    from serkit.features import FEATURE_VERSION
    from serkit.models import build_model, get_model_spec
    from serkit.reports import bundle_card, bundle_metrics, write_reports
    from serkit.version import __version__

    run = run or RunOptions()
    output = Path(output)
    check_output(output)  # before hours of work, not after
    model = config.model
    full, skipped = load_table(config)
    ft = FeatureTable(full, config, run)
    results = []
    if evaluate:
        sizes = ft.table["domain"].astype(str).value_counts().to_dict()
        for ev in card_evaluations(config, sizes):
            results.append(run_evaluation(ev, run=run, table=ft))

    spec = get_model_spec(model.name)
    rows = np.flatnonzero(~ft.is_test)
    tr = ft.training_rows(spec.input, rows)
    X, normalizer = config.normalizer.fit(tr.X, speakers=tr.speakers, domains=tr.domains, n_originals=tr.n_originals)
    params = config.model_params(model)
    if spec.family.trains_by_epochs:
        params["verbose"] = run.progress
    t0 = time.perf_counter()
    estimator = build_model(model.name, random_state=config.seed, **params)
    spec.family.fit(estimator, X, tr.y, groups=tr.speakers, origin=tr.origin)
    train_seconds = time.perf_counter() - t0

    used = ft.table.iloc[rows]
    corpora = tuple(dict.fromkeys(used["domain"].astype(str)))
    cfg = BundleConfig(
        experiment=config,
        labels=tuple(str(c) for c in estimator.classes_),
        input_shape=tuple(int(s) for s in X.shape[1:]),
        model_params=spec.family.saved_params(estimator),
        corpora=corpora,
        n_files=int(len(used)),
        serkit_version=__version__,
        feature_version=FEATURE_VERSION,
    )
    evaluations = [bundle_metrics(r, r.results[str(model)]) for r in results]
    metrics: dict[str, Any] = dict(evaluations[0]) if evaluations else {}
    metrics.update(
        {"evaluations": evaluations, "train_seconds": train_seconds, "skipped": len(skipped) + len(ft.skipped)}
    )
    card = bundle_card(
        config,
        extractors=config.extractors(),
        labels=list(cfg.labels),
        corpora=list(corpora),
        n_files=cfg.n_files,
        metrics=metrics,
    )

    def write_evaluations(folder: Path) -> None:
        for r in results:
            protocol = None if r is results[0] else r.config.protocol
            write_reports(r, folder / evaluation_folder_name(protocol, r.config.adapt_files))

    path = save_bundle(output, cfg, estimator, metrics, card, stats=normalizer.to_bytes(), extra=write_evaluations)
    return TrainingResult(path, str(model), tuple(results), train_seconds, skipped=(*skipped, *ft.skipped))
