"""What an evaluation writes and what a model card says: one module, apart from the cross-validation loop.

Every flattening of metrics into a row (model selection, the CLI summary, a bundle's metrics.json)
goes through `summary_row`, so the numbers a user sees in one place are the numbers in every other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from serkit.errors import ConfigError
from serkit.io import atomic_write_text, write_folder_atomically
from serkit.results import EvaluationResult, ModelResult

REPORT_KIND = "serkit-evaluation"


def is_report_folder(folder: Path) -> bool:
    """A folder an earlier `serkit evaluate --output` wrote (its metrics.json says so), and not a bundle."""
    if (folder / "config.json").exists():
        return False
    try:
        raw = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(raw, dict) and (raw.get("kind") == REPORT_KIND or {"protocol_label", "scheme"} <= set(raw))


REPORT_FILES = frozenset({"metrics.json", "classification_report.csv", "predictions.csv", "model_selection.csv"})


def is_report_entry(entry: Path) -> bool:
    """Whether an entry of an evaluation folder is serkit's: a report file, a confusion matrix, or a model's
    report sub-folder. Anything else (a notebook, notes) is the user's and is kept when reports are rewritten."""
    if entry.is_symlink():
        return False
    if entry.is_file():
        return entry.name in REPORT_FILES or (entry.name.startswith("confusion_matrix") and entry.suffix == ".png")
    return entry.is_dir() and is_report_folder(entry)


def check_report_folder(out: Path) -> None:
    """Refuse, before any work, to write reports over anything but a new, empty or earlier evaluation folder."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; choose another output", params=("output",))
    if out.is_dir() and any(out.iterdir()) and not is_report_folder(out):
        raise ConfigError(
            f"{out}: folder exists and is not an earlier serkit evaluation; refusing to write into it "
            "(choose a new output)",
            params=("output",),
        )


def summary_row(result: EvaluationResult, r: ModelResult) -> dict[str, Any]:
    """The headline figures of one model's evaluation: the one flattening of metrics into a row."""
    m = r.metrics
    row: dict[str, Any] = {
        "model": r.model,
        "features": result.config.feature_spec(),
        "protocol": result.config.protocol.value,
        "protocol_label": result.protocol_label,
        "scheme": result.scheme,
        "n_files": result.n_files,
    }
    for key in ("ua", "wa", "macro_f1"):
        row[key], row[f"{key}_std"] = m.score(key).mean, m.score(key).std
    row["seconds_per_fold"] = m.seconds_per_fold
    return row


def bundle_metrics(result: EvaluationResult, r: ModelResult) -> dict[str, Any]:
    """The evaluation behind a bundle, as its metrics.json and card read it."""
    m = r.metrics
    row = summary_row(result, r)
    row.update(
        {
            "per_fold": {k: list(m.score(k).per_fold) for k in ("ua", "wa", "macro_f1")},
            "fold_names": [f.name or None for f in m.folds],
            "per_class": m.pooled.to_dict()["per_class"],
            "per_corpus": m.per_corpus,
        }
    )
    return row


def write_reports(result: EvaluationResult, out: Path) -> None:
    """metrics.json, classification_report.csv, confusion_matrix.png, predictions.csv (per model in a sub-folder
    when several, plus model_selection.csv and the best model's reports at the top), swapped in as one folder."""
    import pandas as pd

    check_report_folder(out)

    def fill(tmp: Path) -> None:
        several = len(result.results) > 1
        for name, r in result.results.items():
            _write_model_reports(result, r, tmp / name if several else tmp)
        if several:
            best = result.best
            rows = [
                {
                    **{
                        k: (round(v, 4) if isinstance(v, float) else v)
                        for k, v in summary_row(result, r).items()
                        if k not in ("scheme", "n_files", "protocol")
                    },
                    "best": "*" if name == best else "",
                }
                for name, r in result.results.items()
            ]
            frame = pd.DataFrame(rows).sort_values("ua", ascending=False)
            atomic_write_text(tmp / "model_selection.csv", frame.to_csv(index=False))
            _write_model_reports(result, result.results[best], tmp)

    write_folder_atomically(out, fill, ours=is_report_entry)


def _write_model_reports(result: EvaluationResult, r: ModelResult, out: Path) -> None:
    import pandas as pd

    from serkit.metrics import confusion
    from serkit.plots import plot_confusion

    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": REPORT_KIND,
        **bundle_metrics(result, r),
        "labels": r.labels,
        "macro_precision": r.metrics.macro_precision.mean,
        "macro_recall": r.metrics.macro_recall.mean,
        "folds": [f.to_dict() for f in r.metrics.folds],
        "pooled": r.metrics.pooled.to_dict(),
        "feature_seconds": result.feature_seconds,
        "config": result.config.to_dict(),
        "skipped": [{"path": p, "reason": why} for p, why in result.skipped],
    }
    atomic_write_text(out / "metrics.json", json.dumps(payload, indent=2))
    pooled = r.metrics.pooled
    rows = [
        {
            "class": c,
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in pooled.per_class[c].to_dict().items()},
        }
        for c in r.labels
    ]
    rows.append(
        {
            "class": "macro avg",
            "precision": round(pooled.macro_precision, 4),
            "recall": round(pooled.macro_recall, 4),
            "f1": round(pooled.macro_f1, 4),
            "support": int(sum(pooled.per_class[c].support for c in r.labels)),
        }
    )
    atomic_write_text(out / "classification_report.csv", pd.DataFrame(rows).to_csv(index=False))
    atomic_write_text(out / "predictions.csv", r.predictions.to_csv(index=False))
    title = f"{r.model} on {result.config.feature_spec()} — {result.protocol_label}"
    cm = confusion(r.predictions["true"], r.predictions["predicted"], r.labels)
    plot_confusion(
        cm,
        r.labels,
        out / "confusion_matrix.png",
        title=f"{title}\nUA {r.metrics.ua.mean:.1%} ± {r.metrics.ua.std:.1%}",
    )
    named = [f for f in result.folds if f.name]
    if len(named) > 1:
        # One confusion matrix per held-out corpus (leave-one-corpus-out): where each corpus goes wrong.
        for fold, m in zip(result.folds, r.metrics.folds, strict=True):
            part = r.predictions[r.predictions["fold"] == fold.name]
            labels = list(fold.labels) or r.labels
            plot_confusion(
                confusion(part["true"], part["predicted"], labels),
                labels,
                out / f"confusion_matrix_{_safe(fold.name)}.png",
                title=f"{title}\nheld out: {fold.name}, UA {m.ua:.1%}",
            )


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def format_summary(result: EvaluationResult) -> str:
    """The table `serkit evaluate` prints."""
    rows = [summary_row(result, r) for r in result.results.values()]
    lines = [
        f"{result.protocol_label}: {result.scheme}; {result.n_files} files; features {result.config.feature_spec()}",
        f"{'model':24s} {'UA':>15s} {'WA':>15s} {'macro-F1':>15s} {'s/fold':>7s}",
    ]
    for row in sorted(rows, key=lambda x: -x["ua"]):
        mark = " *" if row["model"] == result.best and len(rows) > 1 else ""
        lines.append(
            f"{row['model']:24s} {row['ua']:7.1%} ± {row['ua_std']:4.1%} {row['wa']:7.1%} ± "
            f"{row['wa_std']:4.1%} {row['macro_f1']:7.1%} ± {row['macro_f1_std']:4.1%} "
            f"{row['seconds_per_fold']:7.1f}{mark}"
        )
    for r in result.results.values():
        named = [m for m in r.metrics.folds if m.name]
        if len(named) > 1:
            lines.append(f"{r.model}, per held-out corpus: " + ", ".join(f"{m.name} {m.ua:.1%}" for m in named))
    return "\n".join(lines)


def bundle_card(
    config: Any,
    *,
    extractors: list[Any],
    labels: list[str],
    corpora: list[str],
    n_files: int,
    metrics: dict,
    adaptation: dict | None = None,
) -> str:
    """The card of a bundle, trained (`training.train`) or adapted (`Predictor.save_adapted`): one title and one
    set of notes for both.

    Args:
        config: The ExperimentConfig the model was trained with.
        extractors: Its feature extractors (their card notes: weights, languages).
        labels: Class names in output order.
        corpora: Training corpora.
        n_files: Files trained on.
        metrics: The evaluations behind it (metrics.json).
        adaptation: What it was adapted on (adaptation.json), for an adapted bundle.
    """
    return model_card(
        title=f"{config.model} on {config.feature_spec()}",
        config=config,
        labels=labels,
        corpora=corpora,
        n_files=n_files,
        metrics=metrics,
        notes=[n for ex in extractors for n in ex.card_notes()],
        adaptation=adaptation,
    )


def model_card(
    *,
    title: str,
    config: Any,
    labels: list[str],
    corpora: list[str],
    n_files: int,
    metrics: dict,
    notes: list[str],
    adaptation: dict | None = None,
) -> str:
    """card.md: data, protocol, scores (within-corpus and on unseen corpora), classes, limits, licence."""
    from serkit.corpora.licences import commercial_use_allowed, languages, licence_lines

    lines = [
        f"# serkit model: {title}",
        "",
        f"- **Classes** ({len(labels)}): {', '.join(labels)}",
        f"- **Training data**: {', '.join(corpora)} ({n_files} files); label policy `{config.labels}`",
        f"- **Languages seen in training**: {', '.join(languages(corpora)) or 'unknown (user data)'}",
        f"- **Normalisation**: {config.normalize.value}",
        f"- **Augmentation**: {', '.join(config.augment) or 'none'}"
        + (f" x{config.augment_copies}" if config.augment else ""),
        "",
        "## Evaluation",
    ]
    evaluations = [
        ev
        for ev in (metrics.get("evaluations") or [metrics])
        if isinstance(ev, dict)
        and all(
            isinstance(ev.get(k), float | int) for k in ("ua", "ua_std", "wa", "wa_std", "macro_f1", "macro_f1_std")
        )
    ]
    if not evaluations:
        lines.append("Not evaluated (trained with evaluation switched off).")
    for ev in evaluations:
        lines += [
            "",
            f"Protocol: **{ev['protocol_label']}** — {ev['scheme']}.",
            "",
            "| metric | mean | std |",
            "| --- | --- | --- |",
            f"| UA (unweighted accuracy) | {ev['ua']:.1%} | {ev['ua_std']:.1%} |",
            f"| WA (accuracy) | {ev['wa']:.1%} | {ev['wa_std']:.1%} |",
            f"| macro F1 | {ev['macro_f1']:.1%} | {ev['macro_f1_std']:.1%} |",
        ]
        names = [n for n in ev.get("fold_names") or [] if n]
        if ev.get("protocol") == "corpus" and names:
            lines += [
                "",
                "Per held-out corpus (trained on the others, scored on the classes both have):",
                "",
                "| held-out corpus | UA |",
                "| --- | --- |",
            ]
            lines += [f"| {n} | {u:.1%} |" for n, u in zip(names, ev["per_fold"]["ua"], strict=True)]
        elif ev.get("per_corpus"):
            lines += [
                "",
                "Per corpus (its files' test predictions in the same cross-validation, pooled over folds):",
                "",
                "| corpus | files | UA | WA |",
                "| --- | --- | --- | --- |",
            ]
            lines += [f"| {c} | {v['n']} | {v['ua']:.1%} | {v['wa']:.1%} |" for c, v in ev["per_corpus"].items()]
    if adaptation:
        lines += [
            "",
            "## Adaptation",
            f"Adapted without labels on {adaptation['files']} recordings ({adaptation['hours']:.2f} hours) "
            f"on {adaptation['date']}: every input is z-scored with the feature statistics of those recordings "
            "before the classifier. No label was read.",
        ]
    lines += [
        "",
        "## Limits",
        "- Trained on acted emotional speech read by actors; spontaneous speech in the wild is harder, "
        "and scores on your recordings will be lower than the within-corpus figures above.",
    ]
    lines += [f"- {n}" for n in notes]
    lines += ["", "## Licence", "This model inherits the terms of its training data:"]
    lines += [f"- {x}" for x in licence_lines(corpora)]
    if not commercial_use_allowed(corpora):
        lines.append("\n**Not for commercial use.**")
    return "\n".join(lines) + "\n"
