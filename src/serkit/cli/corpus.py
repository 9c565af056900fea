"""Inspect corpora: `serkit corpus scan`."""

from __future__ import annotations

import argparse
import json
import re

from serkit.cli.options import Formatter
from serkit.cli.output import EXIT_OK, claim_output, emit, warn_skipped


def register(sub: argparse._SubParsersAction) -> None:
    corpus = sub.add_parser(
        "corpus", help="inspect corpora", formatter_class=Formatter, description="Inspect emotional-speech corpora."
    )
    csub = corpus.add_subparsers(
        dest="corpus_command", metavar="ACTION", required=True, help="what to do with a corpus"
    )
    scan = csub.add_parser(
        "scan",
        help="count files, speakers, hours, emotions; list skipped files",
        formatter_class=Formatter,
        description="Scan one corpus folder (or CSV manifest).",
    )
    scan.add_argument("path", metavar="PATH", help="corpus folder or CSV manifest")
    scan.add_argument(
        "--corpus", default=None, metavar="NAME", help="reader to use (default: detected from file names)"
    )
    scan.add_argument(
        "--format",
        default="table",
        choices=["table", "json", "csv"],
        help="table: summary for people; json: one summary object; csv: one row per file",
    )
    scan.add_argument(
        "--output",
        default=None,
        metavar="FILE",
        help="write to FILE instead of stdout; never the manifest read; an existing FILE is replaced "
        "only if it is an earlier scan of this format, anything else needs --overwrite",
    )
    scan.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --output FILE even if serkit did not write it (never the input)",
    )
    scan.set_defaults(handler=cmd_corpus_scan)


# How an existing --output is recognised as an earlier scan of the same format (replaced without --overwrite).
OURS = {
    "table": lambda head: head.startswith(b"corpus    ") and b"\nfiles     " in head,
    "json": lambda head: bool(re.match(rb'\{\n  "corpus": ', head)),
    "csv": lambda head: head.startswith(b"path,corpus,speaker,gender,language,label,emotion,"),
}


def cmd_corpus_scan(args: argparse.Namespace) -> int:
    with claim_output(
        args.output,
        inputs=[args.path],
        ours=OURS[args.format],
        overwrite=args.overwrite,
        what=f"serkit corpus scan --format {args.format}",
    ):
        return _scan(args)


def _scan(args: argparse.Namespace) -> int:
    from serkit.corpora import scan

    corpus = scan(args.path, corpus=args.corpus)
    s = corpus.summary()
    if args.output or args.format == "csv":  # the table and JSON on a terminal list what was skipped themselves
        warn_skipped([(x.path, x.reason) for x in corpus.skipped])
    if args.format == "json":
        emit(json.dumps(s, indent=2), args.output)
    elif args.format == "csv":
        emit(corpus.to_csv(), args.output)
    else:
        lines = [
            f"corpus    {s['corpus']}  ({s['root']})",
            f"files     {s['files']}",
            f"speakers  {s['speakers']}",
            f"hours     {s['hours']:.3f}",
            "emotions  " + ", ".join(f"{k} {v}" for k, v in s["emotions"].items()),
            "genders   " + ", ".join(f"{k} {v}" for k, v in s["per_gender"].items()),
            "per speaker " + ", ".join(f"{k} {v}" for k, v in s["per_speaker"].items()),
            f"recovered {s['recovered']}"
            + (" (names break the scheme; speaker and emotion from their folders)" if s["recovered"] else ""),
        ]
        lines += [f"  - {x['path']}: {x['taken']}" for x in s["recovered_examples"]]
        if s["recovered"] > len(s["recovered_examples"]):
            lines.append(f"  ... and {s['recovered'] - len(s['recovered_examples'])} more (use --format json)")
        lines.append(f"skipped   {s['skipped']}")
        lines += [f"  - {x['path']}: {x['reason']}" for x in s["skipped_examples"]]
        if s["skipped"] > len(s["skipped_examples"]):
            lines.append(f"  ... and {s['skipped'] - len(s['skipped_examples'])} more (use --format json)")
        emit("\n".join(lines), args.output)
    return EXIT_OK
