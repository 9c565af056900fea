"""`serkit train`: evaluate, fit on all the data, write a bundle."""

from __future__ import annotations

import argparse

from serkit.cli.options import Formatter, add_experiment_options, add_run_options, experiment_from, run_from
from serkit.cli.output import EXIT_OK, claim_folder, warn_skipped


def register(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser(
        "train",
        help="train a model on all the data and write a bundle",
        formatter_class=Formatter,
        description="Evaluate (unless --no-evaluate), then train on all the data and write a model "
        "bundle: config.json, labels.json, weights, metrics.json, card.md.",
    )
    add_experiment_options(tr, command="train")
    tr.add_argument("--output", required=True, metavar="BUNDLE", help="bundle folder to write")
    tr.add_argument("--no-evaluate", action="store_true", help="skip the cross-validation behind the card's scores")
    add_run_options(tr)
    tr.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from serkit.training import train_bundle

    with claim_folder(args.output):  # a second run writing this bundle is refused, not interleaved
        done = train_bundle(experiment_from(args), args.output, run=run_from(args), evaluate=not args.no_evaluate)
    warn_skipped(done.skipped)
    scores = "".join(
        f"; {e.protocol_label} UA {e.results[done.model].metrics.ua.mean:.1%} ± "
        f"{e.results[done.model].metrics.ua.std:.1%}"
        for e in done.evaluations
    )
    print(f"model bundle written to {done.path}{scores}")
    return EXIT_OK
