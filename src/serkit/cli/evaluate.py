"""`serkit evaluate`: cross-validate models and write reports."""

from __future__ import annotations

import argparse
import json

from serkit.cli.options import Formatter, add_experiment_options, add_run_options, experiment_from, run_from
from serkit.cli.output import EXIT_OK, claim_folder, warn_skipped


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser(
        "evaluate",
        help="cross-validate models and write reports",
        formatter_class=Formatter,
        description="Cross-validate one or more models (speaker-independent by default) and write "
        "metrics.json, classification_report.csv, confusion_matrix.png, predictions.csv "
        "and, for several models, model_selection.csv.",
    )
    add_experiment_options(ev, command="evaluate")
    ev.add_argument(
        "--output",
        default=None,
        metavar="DIR",
        help="report folder: new, empty, or an earlier evaluation's (default: print only)",
    )
    ev.add_argument("--format", default="table", choices=["table", "json"], help="how to print the summary")
    add_run_options(ev)
    ev.set_defaults(handler=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from serkit.evaluation import evaluate
    from serkit.reports import format_summary, summary_row

    with claim_folder(args.output):  # a second run writing this folder is refused, not interleaved
        r = evaluate(experiment_from(args), run=run_from(args), output=args.output)
    warn_skipped(r.skipped)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "protocol": r.config.protocol.value,
                    "protocol_label": r.protocol_label,
                    "scheme": r.scheme,
                    "features": r.config.feature_spec(),
                    "n_files": r.n_files,
                    "best": r.best,
                    "results": [
                        {
                            **summary_row(r, m),
                            "per_fold": list(m.metrics.ua.per_fold),
                            "fold_names": [f.name or None for f in m.metrics.folds],
                        }
                        for m in r.results.values()
                    ],
                },
                indent=2,
            )
        )
    else:
        print(format_summary(r))
        if args.output:
            print(f"reports written to {args.output}")
    return EXIT_OK
