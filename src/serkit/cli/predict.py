"""`serkit predict`: files, folders and globs to labels, tables and timelines."""

from __future__ import annotations

import argparse
import json
import sys

from serkit.cli.options import Formatter
from serkit.cli.output import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, emit


def register(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser("predict", help="predict the emotion of files, folders or globs", formatter_class=Formatter,
                        description="Predict emotions. Audio longer than 10 s (or any, with --segment) is split on "
                                    "speech and gets a per-segment timeline. Exit code 1 when some files failed.")
    pr.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders (recursive) or globs")
    pr.add_argument("--model", default=None, metavar="BUNDLE", help="model bundle (default: the bundled model)")
    pr.add_argument("--format", default="table", choices=["table", "json", "csv"], help="output format")
    pr.add_argument("--output", default=None, metavar="FILE", help="write to FILE instead of stdout")
    pr.add_argument("--top", type=int, default=3, metavar="K", help="classes shown per file in the table")
    pr.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                    help="below this top probability the label is 'uncertain'")
    pr.add_argument("--segment", action="store_true", help="segment every file on speech, however short")
    pr.add_argument("--backend", default="auto", choices=["auto", "native", "onnx"],
                    help="runtime: onnx runs the exported files without torch (needs `serkit export BUNDLE`); auto "
                         "uses them when the bundle has them")
    pr.add_argument("--adapt", action="store_true",
                    help="adapt the model on the files being predicted (at least 10; transductive, labelled so)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")

    pr.set_defaults(handler=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    from serkit.experiment import check_range
    from serkit.inference import Predictor, expand_paths

    check_range("--top", args.top, 1, 1000)
    predictor = Predictor.load(args.model, min_confidence=args.min_confidence, backend=args.backend)
    files = expand_paths(args.paths)
    if not files:
        from serkit.errors import SerkitError

        raise SerkitError(f"no audio files found in {' '.join(args.paths)}")
    if args.adapt:
        predictor = predictor.adapt(files, progress=not args.quiet)
        predictor.transductive = True
        a = predictor.bundle.adaptation or {}
        print(f"serkit: adapted on the {a.get('files')} files being predicted (transductive): the predictions "
              "depend on the whole batch", file=sys.stderr)
    results = predictor.predict_files(files, progress=not args.quiet and len(files) > 1, segment=args.segment or None)
    if args.format == "json":
        text = json.dumps([r.to_dict() for r in results], indent=2)
    elif args.format == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["path", "label", "confidence", *[f"p_{c}" for c in predictor.labels], "segments", "error"])
        for r in results:
            probs = r.probabilities or {}
            w.writerow([r.path, r.label or "", "" if r.confidence is None else f"{r.confidence:.4f}",
                        *[f"{probs[c]:.4f}" if c in probs else "" for c in predictor.labels],
                        len(r.segments) if r.segments else "", r.error or ""])
        text = buf.getvalue()
    else:
        lines = []
        width = max(len(r.path or "") for r in results)
        for r in results:
            if r.error:
                lines.append(f"{r.path:{width}s}  ERROR {r.error}")
                continue
            top = "  ".join(f"{c} {p:.2f}" for c, p in r.top(max(1, args.top)))
            lines.append(f"{r.path:{width}s}  {r.label:10s} {r.confidence:5.2f}   [{top}]")
            for s in r.segments or ():
                lines.append(f"{'':{width}s}    {s.start:8.2f}-{s.end:8.2f} s  {s.label:10s} {s.confidence:5.2f}")
        text = "\n".join(lines)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"serkit: {r.error}", file=sys.stderr)
    if failed and len(failed) == len(results):
        # Nothing could be predicted: an error, not a partial result, and no output (an existing
        # --output file is left as it was rather than replaced by a list of errors).
        return EXIT_ERROR
    emit(text, args.output)
    return EXIT_PARTIAL if failed else EXIT_OK

