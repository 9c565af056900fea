"""What the CLI prints: writing to stdout or to a file (atomically), and the tables people read."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2


def emit(text: str, output: str | None) -> None:
    if output:
        if Path(output).is_dir():
            from serkit.errors import SerkitError

            raise SerkitError(f"{output}: is a folder; --output takes a file name")
        from serkit.io import atomic_write_bytes, encode_text

        atomic_write_bytes(output, encode_text(text))  # /dev/stdout, a pipe: written through (io.writes_through)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@contextlib.contextmanager
def claim_output(
    output: str | None, *, inputs: Iterable[str | Path], ours: Callable[[bytes], bool], overwrite: bool, what: str
) -> Iterator[None]:
    """Hold --output FILE for the command's run (a second writer is refused with this run's pid), after
    checking it is not one of the inputs and, if it exists, is serkit's own earlier output or --overwrite.
    Nothing to do when the output is stdout; a device or a pipe (io.writes_through) is checked, never locked."""
    if not output:
        yield
        return
    from serkit.io import check_output_file, output_lock

    with output_lock(output):  # /dev/stdout, a pipe: no file to hold, no lock (io.writes_through)
        check_output_file(output, inputs=inputs, ours=ours, overwrite=overwrite, what=what)
        yield


def claim_folder(output: str | None) -> contextlib.AbstractContextManager:
    """Hold an output folder (bundle, evaluation) for the command's run; nothing to hold without one."""
    if not output:
        return contextlib.nullcontext()
    from serkit.io import output_lock

    return output_lock(output)


def lines_match(head: bytes, *patterns: re.Pattern[str]) -> bool:
    """Whether every whole line of a file's head matches one of the patterns (the last line may be cut off
    where the head ends): how a free-text table serkit wrote is recognised as its own."""
    from serkit.io import decode_text

    lines = decode_text(head).splitlines()
    if len(head) >= 1 << 16 and lines:
        lines.pop()
    return bool(lines) and all(any(p.match(line) for p in patterns) for line in lines)


def warn_skipped(skipped: Iterable[tuple[str, str]], *, total: int | None = None) -> None:
    """One warning line when reading the data left entries out (unreadable folders, names outside a scheme,
    duplicates): how many, and the first with its reason; `serkit corpus scan` lists them all."""
    items = list(skipped)
    n = total if total is not None else len(items)
    if not n:
        return
    first = f" (e.g. {items[0][0]}: {items[0][1]})" if items else ""
    print(
        f"serkit: warning: {n} entr{'y' if n == 1 else 'ies'} of the data skipped{first}; "
        "`serkit corpus scan PATH` lists them",
        file=sys.stderr,
    )


def segment_line(segment: Any, *, indent: int = 4) -> str:
    """One speech segment of a timeline: start-end, label, confidence."""
    return f"{'':{indent}s}{segment.start:8.2f}-{segment.end:8.2f} s  {segment.label:10s} {segment.confidence:5.2f}"
