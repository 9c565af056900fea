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
    output: str | None,
    *,
    inputs: Iterable[str | Path],
    ours: Callable[[bytes], bool] | None,
    overwrite: bool,
    what: str,
) -> Iterator[None]:
    """Hold --output FILE for the command's run (a second writer is refused with this run's pid), after
    checking it is not one of the inputs and, if it exists, is serkit's own earlier output or --overwrite.
    Nothing to do when the output is stdout; a device or a pipe (io.writes_through) is checked, never locked."""
    if not output:
        yield
        return
    from serkit.io import output_lock

    with output_lock(output):  # /dev/stdout, a pipe: no file to hold, no lock (io.writes_through)
        check_output_file(output, inputs=inputs, ours=ours, overwrite=overwrite, what=what)
        yield


def check_output_file(
    output: str | Path,
    *,
    inputs: Iterable[str | Path],
    ours: Callable[[bytes], bool] | None,
    overwrite: bool,
    what: str,
) -> None:
    """Refuse, before any work, an --output that is one of the inputs, or an existing file serkit did not write.

    The command line's own check (its messages name its flags): the library writes no user-named file itself.

    Args:
        output: the file a command is about to write.
        inputs: the files it reads; the output may never be one of them, --overwrite or not (a recording
            replaced by a line of text is lost).
        ours: whether the first 64 KiB of an existing file are serkit's own earlier output of this kind,
            which may be replaced; anything else is the user's. None: the writer checks the content itself.
        overwrite: the user's explicit --overwrite, which allows replacing a file that is not serkit's.
        what: the kind of output, for the message ("serkit predict --format csv").

    Raises:
        OutputError: one line naming the output and why it is not written.
    """
    import os

    from serkit.errors import OutputError
    from serkit.io import writes_through

    out = Path(output)
    if out.is_dir():
        raise OutputError(f"{output}: is a folder; --output takes a file name")
    try:
        out_stat = os.stat(out)
    except OSError:
        return  # nothing there yet (or a broken link, which the writer replaces)
    for source in inputs:
        try:
            same = os.path.samestat(out_stat, os.stat(source))
        except OSError:
            same = False
        if same:
            named = "" if str(source) == str(output) else f" ({source})"
            raise OutputError(
                f"{output}: is one of the inputs{named}; serkit never writes over an input, "
                "even with --overwrite: choose another --output"
            )
    if writes_through(out):
        return  # a device or a pipe (--output /dev/stdout): nothing on disk to lose, and reading it could block
    if ours is None:
        return  # the writer reads what the file holds itself (jsonl and csv: continued, refused or replaced)
    try:
        with open(out, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise OutputError(f"{output}: cannot be read to check whose it is ({exc.strerror or exc})") from None
    if head and not overwrite and not ours(head):
        raise OutputError(
            f"{output}: exists and is not an earlier {what} output; pass --overwrite to replace "
            "it, or choose another --output"
        )


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
