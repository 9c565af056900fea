"""`serkit adapt`: unsupervised adaptation of a bundle to a user's recordings."""

from __future__ import annotations

import argparse
from pathlib import Path

from serkit.cli.options import (
    Formatter,
    add_predictor_options,
    add_run_options,
    run_from,
)
from serkit.cli.output import EXIT_OK, claim_folder


def register(sub: argparse._SubParsersAction) -> None:
    ad = sub.add_parser(
        "adapt",
        help="adapt a model to your recordings, without labels",
        formatter_class=Formatter,
        description="Compute the feature statistics of your unlabelled recordings (any names, any "
        "folder layout; at least 10) and write a new bundle that normalises every input "
        "with them. The model must be trained with --normalize corpus.",
    )
    ad.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders (recursive) or globs; no labels")
    add_predictor_options(ad, backend=False)
    ad.add_argument("--output", required=True, metavar="NEW_BUNDLE", help="adapted bundle folder to write")
    add_run_options(ad, only=("workers", "progress", "scheduler"))
    ad.set_defaults(handler=cmd_adapt)


def cmd_adapt(args: argparse.Namespace) -> int:
    from serkit.bundle import check_adapted_output, check_output
    from serkit.inference import Predictor

    run = run_from(args)  # validates --workers and --scheduler before any work
    with claim_folder(args.output):  # a second run writing this bundle is refused, not interleaved
        check_output(Path(args.output))  # before any work
        predictor = Predictor.load(args.model)  # ONNX where the bundle has it: no torch
        check_adapted_output(predictor.bundle.path, args.output)  # not the model being adapted: before the work
        adapted = predictor.adapt(args.paths, progress=run.progress, workers=run.workers, executor=run.pool())
        out = adapted.save_adapted(args.output)
    a = adapted.bundle.adaptation or {}
    print(
        f"adapted bundle written to {out}: statistics of {a.get('files')} recordings ({a.get('hours', 0):.2f} h)"
        + (f", {a['skipped']} unreadable file(s) left out" if a.get("skipped") else "")
    )
    return EXIT_OK
