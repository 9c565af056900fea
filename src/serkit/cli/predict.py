"""`serkit predict`: files, folders and globs to labels, tables and timelines."""

from __future__ import annotations

import argparse
import json
import re
import sys
from enum import Enum

from serkit.cli.options import (
    Formatter,
    add_predictor_options,
    add_run_options,
    run_from,
)
from serkit.cli.output import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, claim_output, emit, lines_match, segment_line


class Format(str, Enum):
    TABLE = "table"
    JSON = "json"  # one JSON array, written at the end
    JSONL = "jsonl"  # one JSON object per line, written as each batch is done
    CSV = "csv"  # a header, then one row per file, written as each batch is done


STREAMED = (Format.JSONL, Format.CSV)  # written line by line as results arrive: flat memory, resumable


def register(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser(
        "predict",
        help="predict the emotion of files, folders or globs",
        formatter_class=Formatter,
        description="Predict emotions. Audio longer than 10 s (or any, with --segment) is split on "
        "speech and gets a per-segment timeline. Exit code 1 when some files failed.",
    )
    pr.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders (recursive) or globs")
    add_predictor_options(pr)
    pr.add_argument(
        "--format",
        default="table",
        choices=[f.value for f in Format],
        help="output format; jsonl and csv write each file's line as soon as its batch is done",
    )
    pr.add_argument(
        "--output",
        default=None,
        metavar="FILE",
        help="write to FILE instead of stdout; never one of the inputs; an existing FILE is replaced "
        "only if it is serkit's own output of this format (with jsonl or csv: continued with "
        "--resume), anything else needs --overwrite",
    )
    pr.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --output FILE even if serkit did not write it (never an input)",
    )
    pr.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted --format jsonl/csv --output FILE: predict only the files not in it "
        "yet and append them (a partial last line is dropped)",
    )
    pr.add_argument("--top", type=int, default=3, metavar="K", help="classes shown per file in the table")
    pr.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        metavar="P",
        help="below this top probability the label is 'uncertain'",
    )
    pr.add_argument("--segment", action="store_true", help="segment every file on speech, however short")
    pr.add_argument(
        "--adapt",
        action="store_true",
        help="adapt the model on the files being predicted (at least 10; transductive, labelled so)",
    )
    add_run_options(pr, only=("scheduler", "progress"))

    pr.set_defaults(handler=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    from serkit.errors import SerkitError
    from serkit.experiment import check_range
    from serkit.inference import Predictor, expand_paths

    check_range("--top", args.top, 1, 1000)
    fmt = Format(args.format)
    if args.resume and fmt not in STREAMED:
        raise SerkitError(f"--resume continues a --format jsonl or csv file, not --format {fmt.value}")
    if args.resume and not args.output:
        raise SerkitError("--resume needs --output FILE: the file of the interrupted run")
    if args.resume and args.overwrite:
        raise SerkitError("--resume continues --output FILE and --overwrite replaces it: pass one of them")
    run = run_from(args)  # a bad --scheduler fails here, before any work
    predictor = Predictor.load(args.model, min_confidence=args.min_confidence, backend=args.backend)
    unreadable: list[tuple[str, str]] = []
    files = expand_paths(args.paths, problems=unreadable)
    for path, reason in unreadable:  # a FIFO or a broken link in a folder: reported, never opened
        print(f"serkit: {path}: {reason}", file=sys.stderr)
    if not files:
        raise SerkitError(f"no audio files found in {' '.join(args.paths)}")
    # jsonl and csv check what an existing file holds themselves (ResultLines): continued, refused or replaced.
    ours = None if fmt in STREAMED else OURS[fmt]
    with claim_output(
        args.output,
        inputs=[*files, *args.paths],
        ours=ours,
        overwrite=args.overwrite,
        what=f"serkit predict --format {fmt.value}",
    ):
        return _predict(args, fmt, predictor, files, unreadable, run)


def _predict(args: argparse.Namespace, fmt: Format, predictor, files: list[str], unreadable: list, run) -> int:
    executor = run.pool()
    if fmt in STREAMED:
        code = _predict_streamed(args, fmt, predictor, files, executor)
        return EXIT_PARTIAL if unreadable and code == EXIT_OK else code
    if args.adapt:
        predictor = _adapted(args, predictor, files, executor)
    results = predictor.predict_files(
        files, progress=args.progress and len(files) > 1, segment=args.segment or None, executor=executor
    )
    if fmt is Format.JSON:
        text = json.dumps([r.to_dict() for r in results], indent=2)
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
                lines.append(segment_line(s, indent=width + 4))
        text = "\n".join(lines)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"serkit: {r.error}", file=sys.stderr)
    if failed and len(failed) == len(results):
        # Nothing could be predicted: an error, not a partial result, and no output (an existing
        # --output file is left as it was rather than replaced by a list of errors).
        return EXIT_ERROR
    emit(text, args.output)
    return EXIT_PARTIAL if failed or unreadable else EXIT_OK


def _adapted(args: argparse.Namespace, predictor, files: list[str], executor):
    predictor = predictor.adapt(files, progress=args.progress, executor=executor, transductive=True)
    a = predictor.bundle.adaptation or {}
    print(
        f"serkit: adapted on the {a.get('files')} files being predicted (transductive): the predictions "
        "depend on the whole batch",
        file=sys.stderr,
    )
    return predictor


def _predict_streamed(args: argparse.Namespace, fmt: Format, predictor, files: list[str], executor) -> int:
    """jsonl/csv: each file's line written as soon as its batch is done, every input file exactly once."""
    from serkit.cli.lines import ResultLines
    from serkit.errors import SerkitError

    labels = predictor.labels
    header = _csv_line(CSV_COLUMNS[:3] + [f"p_{c}" for c in labels] + CSV_COLUMNS[3:]) if fmt is Format.CSV else None
    keys = _csv_keys if fmt is Format.CSV else _jsonl_keys
    with ResultLines(
        args.output, header=header, keys=keys, resume=args.resume, overwrite=args.overwrite, what=fmt.value
    ) as out:
        if out.dropped_partial:
            print(
                f"serkit: dropped the partial last line of {args.output} (the run was cut off while writing it)",
                file=sys.stderr,
            )
        todo = [f for f in dict.fromkeys(files) if f not in out.done]  # each input once, and none already there
        if out.done and todo and predictor.normalizer.per_batch:
            raise SerkitError(
                f"{args.output}: this model normalises features (--normalize "
                f"{predictor.normalizer.kind}) over all the files predicted together; resuming would "
                "predict the rest with other statistics: predict into a new --output"
            )
        if not todo:
            print(f"serkit: all {len(files)} files are already in {args.output}", file=sys.stderr)
            return EXIT_OK
        if out.done:
            print(
                f"serkit: resuming: {len(files) - len(todo)} files already in {args.output}, {len(todo)} to predict",
                file=sys.stderr,
            )
        if args.adapt:
            predictor = _adapted(args, predictor, files, executor)
        n_failed = 0
        for r in predictor.iter_predictions(
            todo, progress=args.progress and len(todo) > 1, segment=args.segment or None, executor=executor
        ):
            out.write(json.dumps(r.to_dict()) if fmt is Format.JSONL else _csv_row(r, labels))
            if r.error:
                n_failed += 1
                print(f"serkit: {r.error}", file=sys.stderr)
    if n_failed == len(todo):
        return EXIT_ERROR
    return EXIT_PARTIAL if n_failed else EXIT_OK


# How an existing --output is recognised as predict's own earlier output of the same format (so it may be
# replaced without --overwrite): the table's three line shapes, and the start of the JSON array.
_TABLE_LINES = (
    re.compile(r"^.+  \S+ +\d+\.\d\d   \[[^\]]*\]$"),
    re.compile(r"^.+  ERROR .+$"),
    re.compile(r"^ +-?\d+\.\d\d- *-?\d+\.\d\d s  \S+ +\d+\.\d\d$"),
)
_JSON_START = re.compile(rb'^\[(\]|\n  \{\n    "path": )')
OURS = {
    Format.TABLE: lambda head: lines_match(head, *_TABLE_LINES),
    Format.JSON: lambda head: bool(_JSON_START.match(head)),
}

CSV_COLUMNS = ["path", "label", "confidence", "segments", "error"]  # the p_<class> columns go after confidence


def _csv_line(cells: list) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def _csv_row(r, labels: list[str]) -> str:
    probs = r.probabilities or {}
    return _csv_line(
        [
            r.path,
            r.label or "",
            "" if r.confidence is None else f"{r.confidence:.4f}",
            *[f"{probs[c]:.4f}" if c in probs else "" for c in labels],
            len(r.segments) if r.segments else "",
            r.error or "",
        ]
    )


def _csv_keys(text: str) -> list[str]:
    import csv
    import io

    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        raise ValueError(f"not CSV: {exc}") from None
    for n, row in enumerate(rows, start=2):
        if not row or not row[0]:
            raise ValueError(f"row {n} has no path")
    return [row[0] for row in rows]


def _jsonl_keys(text: str) -> list[str]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ValueError(f"line {n} is not a JSON object with a path")
        out.append(item["path"])
    return out
