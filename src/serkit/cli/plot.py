"""`serkit plot`: class distribution, audio, confusion matrix."""

from __future__ import annotations

import argparse
from pathlib import Path

from serkit.cli.options import Formatter
from serkit.cli.output import EXIT_OK, claim_output

OUTPUT_HELP = "image to write; never the input; an existing file is replaced only if serkit drew it, else --overwrite"
OVERWRITE_HELP = "replace an existing --output even if serkit did not draw it (never the input)"


def register(sub: argparse._SubParsersAction) -> None:
    pl = sub.add_parser(
        "plot",
        help="plots: class distribution, audio, confusion matrix",
        formatter_class=Formatter,
        description="Draw the pictures SER projects show.",
    )
    plsub = pl.add_subparsers(dest="plot_command", metavar="KIND", required=True, help="which picture to draw")
    pd_ = plsub.add_parser(
        "distribution",
        help="class distribution of a corpus",
        formatter_class=Formatter,
        description="Bar chart of the emotions in a corpus.",
    )
    pd_.add_argument("path", metavar="PATH", help="corpus folder or CSV manifest")
    pd_.add_argument("--corpus", default=None, metavar="NAME", help="reader (default: detected)")
    pd_.add_argument("--output", required=True, metavar="PNG", help=OUTPUT_HELP)
    pd_.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    pa = plsub.add_parser(
        "audio",
        help="waveform, spectrogram and mel spectrogram of a file",
        formatter_class=Formatter,
        description="Waveform, spectrogram and mel spectrogram.",
    )
    pa.add_argument("path", metavar="FILE", help="audio file")
    pa.add_argument("--output", required=True, metavar="PNG", help=OUTPUT_HELP)
    pa.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    pc = plsub.add_parser(
        "confusion",
        help="confusion matrix of an evaluation",
        formatter_class=Formatter,
        description="Confusion matrix from an evaluation's predictions.csv.",
    )
    pc.add_argument("path", metavar="DIR_OR_CSV", help="evaluation folder or its predictions.csv")
    pc.add_argument("--output", required=True, metavar="PNG", help=OUTPUT_HELP)
    pc.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    pd_.set_defaults(handler=cmd_plot)
    pa.set_defaults(handler=cmd_plot)
    pc.set_defaults(handler=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    from serkit.plots import is_serkit_png

    source = Path(args.path)
    inputs = [source, source / "predictions.csv"] if args.plot_command == "confusion" else [source]
    with claim_output(args.output, inputs=inputs, ours=is_serkit_png, overwrite=args.overwrite, what="serkit plot"):
        return _plot(args)


def _plot(args: argparse.Namespace) -> int:
    from serkit import plots

    if args.plot_command == "distribution":
        from serkit.corpora import scan

        s = scan(args.path, corpus=args.corpus).summary()
        plots.plot_distribution(s["emotions"], Path(args.output), title=f"{s['corpus']}: {s['files']} files")
    elif args.plot_command == "audio":
        from serkit import audio

        sig = audio.load(args.path)
        plots.plot_audio(sig, audio.SAMPLE_RATE, Path(args.output), title=Path(args.path).name)
    else:
        import pandas as pd

        from serkit.errors import SerkitError
        from serkit.labels import ordered
        from serkit.metrics import confusion

        p = Path(args.path)
        f = p / "predictions.csv" if p.is_dir() else p
        if not f.is_file():
            raise SerkitError(f"{f}: not found (give an evaluation folder or its predictions.csv)")
        try:
            df = pd.read_csv(f)
            labels = ordered(set(df["true"]) | set(df["predicted"]))
        except (ValueError, KeyError) as exc:
            raise SerkitError(f"{f}: not an evaluation predictions.csv ({exc})") from None
        plots.plot_confusion(confusion(df["true"], df["predicted"], labels), labels, Path(args.output), title=str(f))
    print(f"wrote {args.output}")
    return EXIT_OK
