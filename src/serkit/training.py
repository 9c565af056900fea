"""Train one model on all the data and write a bundle (evaluated first, so its card has honest scores)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serkit.bundle import LICENCES, TrainConfig, save_bundle


def train(
    data: Sequence[str] | str,
    *,
    model: str = "logreg",
    features: Sequence[str] | str = ("spectral_stats",),
    output: str | Path,
    labels: str = "union",
    protocol: str = "speaker",
    evaluate: bool = True,
    test_data: Sequence[str] | str | None = None,
    n_folds: int = 5,
    seed: int = 0,
    augment: str | None = None,
    augment_copies: int = 1,
    epochs: int | None = None,
    speaker_norm: bool = False,
    cache_dir: str | Path | None = None,
    no_cache: bool = False,
    workers: int | None = None,
    jobs: int = 2,
    progress: bool = True,
) -> Path:
    """Same options as `evaluate`; returns the bundle folder."""
    import serkit
    from serkit.augment import parse_augmentations
    from serkit.corpora import load_dataset
    from serkit.evaluation import FeatureTable, _train_rows
    from serkit.evaluation import evaluate as run_evaluation
    from serkit.features import FEATURE_VERSION, FeatureCache, get_extractor, parse_feature_names
    from serkit.features.assemble import check_compatible
    from serkit.models import build_model, get_model_spec

    from serkit.bundle import check_output

    check_output(Path(output))  # before hours of work, not after
    data = [data] if isinstance(data, str) else list(data)
    feature_names = parse_feature_names(features)
    spec = get_model_spec(model)
    check_compatible(model, spec.input, feature_names, {n: get_extractor(n).kind.value for n in feature_names})
    aug_spec = ",".join(a.value for a in parse_augmentations(augment))
    copies = augment_copies if aug_spec else 0
    metrics: dict[str, Any] = {}
    result = None
    if evaluate:
        result = run_evaluation(
            data, models=[model], features=feature_names, protocol=protocol, test_data=test_data, labels=labels,
            n_folds=n_folds, seed=seed, augment=aug_spec, augment_copies=copies, epochs=epochs,
            speaker_norm=speaker_norm, output=None, cache_dir=cache_dir, no_cache=no_cache,
            workers=workers, jobs=jobs, progress=progress,
        )
        r = result.results[model]
        metrics = {
            "protocol": result.config.protocol, "protocol_label": result.protocol_label, "scheme": result.scheme,
            "ua": r.metrics["ua"]["mean"], "ua_std": r.metrics["ua"]["std"],
            "wa": r.metrics["wa"]["mean"], "wa_std": r.metrics["wa"]["std"],
            "macro_f1": r.metrics["macro_f1"]["mean"], "macro_f1_std": r.metrics["macro_f1"]["std"],
            "per_fold": {k: r.metrics[k]["per_fold"] for k in ("ua", "wa", "macro_f1")},
            "per_class": r.metrics["pooled"]["per_class"], "n_files": result.n_files,
            "per_corpus": r.metrics.get("per_corpus"),
        }

    ds = load_dataset(data, labels=labels)
    cache = None if no_cache else FeatureCache(cache_dir)
    ft = FeatureTable(ds.table, feature_names, cache=cache, workers=workers, progress=progress,
                      augment=aug_spec, copies=copies, seed=seed, speaker_norm=speaker_norm)
    import numpy as np

    X, y, groups, origin = _train_rows(ft, spec.input, np.arange(len(ft.table)))
    params: dict[str, Any] = {}
    if spec.family == "torch":
        if epochs is not None:
            params["epochs"] = epochs
        params["verbose"] = progress
    t0 = time.perf_counter()
    estimator = build_model(model, random_state=seed, **params)
    if spec.family == "torch":
        estimator.fit(X, y, groups=groups, origin=origin)
        model_params = {k: v for k, v in estimator.get_params().items() if k != "verbose"}
    else:
        estimator.fit(X, y)
        model_params = {}
    metrics["train_seconds"] = time.perf_counter() - t0
    corpora = tuple(sorted({c.name for c in ds.corpora}))
    cfg = TrainConfig(
        model=model,
        features=tuple({"name": n, "config": get_extractor(n).config_dict()} for n in feature_names),
        labels=tuple(str(c) for c in estimator.classes_),
        model_family=spec.family,
        model_input=spec.input,
        model_params=model_params,
        input_shape=tuple(int(s) for s in X.shape[1:]),
        data=tuple(data),
        corpora=corpora,
        n_files=int(len(ft.table)),
        label_policy=labels,
        augment=aug_spec,
        augment_copies=copies,
        seed=seed,
        speaker_norm=speaker_norm,
        serkit_version=serkit.__version__,
        feature_version=FEATURE_VERSION,
    )
    def write_evaluation(folder: Path) -> None:
        if result is not None:
            from serkit.evaluation import write_reports

            write_reports(result, folder / "evaluation")

    return save_bundle(Path(output), cfg, estimator, metrics, model_card(cfg, metrics), extra=write_evaluation)


def model_card(cfg: TrainConfig, metrics: dict) -> str:
    feats = " + ".join(f["name"] for f in cfg.features)
    lines = [
        f"# serkit model: {cfg.model} on {feats}",
        "",
        f"- **Classes** ({len(cfg.labels)}): {', '.join(cfg.labels)}",
        f"- **Training data**: {', '.join(cfg.corpora)} ({cfg.n_files} files); label policy `{cfg.label_policy}`",
        f"- **Augmentation**: {cfg.augment or 'none'}" + (f" x{cfg.augment_copies}" if cfg.augment else ""),
        f"- **serkit** {cfg.serkit_version}, feature version {cfg.feature_version}",
        "",
        "## Evaluation",
    ]
    if metrics.get("ua") is not None:
        lines += [
            f"Protocol: **{metrics['protocol_label']}** — {metrics['scheme']}.",
            "",
            "| metric | mean | std |",
            "| --- | --- | --- |",
            f"| UA (unweighted accuracy) | {metrics['ua']:.1%} | {metrics['ua_std']:.1%} |",
            f"| WA (accuracy) | {metrics['wa']:.1%} | {metrics['wa_std']:.1%} |",
            f"| macro F1 | {metrics['macro_f1']:.1%} | {metrics['macro_f1_std']:.1%} |",
        ]
        if metrics.get("per_corpus"):
            lines += ["", "Per corpus (its files' test predictions in the same cross-validation, pooled over folds):", "",
                      "| corpus | files | UA | WA |", "| --- | --- | --- | --- |"]
            lines += [f"| {c} | {v['n']} | {v['ua']:.1%} | {v['wa']:.1%} |" for c, v in metrics["per_corpus"].items()]
    else:
        lines.append("Not evaluated (trained with evaluation switched off).")
    lines += [
        "",
        "## Limits",
        "- Trained on acted emotional speech read by actors; spontaneous speech in the wild is harder, "
        "and scores on your recordings will be lower than the figures above.",
    ]
    if any(f["name"] == "whisper_encoder" for f in cfg.features):
        lines.append("- Uses the Whisper tiny.en encoder (MIT licence), trained on English speech only: "
                     "expect lower accuracy on other languages.")
    langs = {"ravdess": "English", "savee": "English", "crema_d": "English", "tess": "English",
             "emodb": "German", "emovo": "Italian", "urdu": "Urdu"}
    spoken = sorted({langs[c] for c in cfg.corpora if c in langs})
    if spoken:
        lines.append(f"- Training speech is {', '.join(spoken)}.")
    lines += ["", "## Licence", "This model inherits the terms of its training data:"]
    lines += [f"- {LICENCES[c]}" for c in cfg.corpora if c in LICENCES] or ["- (user data: check its terms)"]
    if any(c in ("ravdess", "savee", "tess") for c in cfg.corpora):
        lines.append("\n**Not for commercial use.**")
    return "\n".join(lines) + "\n"
