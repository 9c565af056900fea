"""A result file written one whole line per input file as results arrive, and resumed after a crash.

Each line goes out in one unbuffered write, so a run killed at any moment leaves whole lines plus at most
one partial last line; resuming drops that partial line, reads which inputs are already there and appends
the rest, so every input ends up in the file exactly once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from serkit.errors import SerkitError
from serkit.io import decode_text, encode_text, open_through, write_all, writes_through


class ResultLines:
    """Appends lines to `output` (or stdout when None). `keys(text)` lists the inputs recorded in a file's
    text (after its header) and raises ValueError for text this format did not write. Text goes out in the
    filesystem encoding with surrogateescape (io.encode_text), so a path that is not UTF-8 is written as its
    bytes and read back as the same str: --resume recognises it. `overwrite` starts the file afresh. An output
    that io.writes_through (/dev/stdout, /dev/null, a FIFO) is only written: never read, resumed, truncated or
    fsynced (reading a pipe serkit itself writes would hang; fsync and ftruncate fail on a device)."""

    def __init__(
        self,
        output: str | None,
        *,
        header: str | None,
        keys: Callable[[str], list[str]],
        resume: bool,
        what: str,
        overwrite: bool = False,
    ) -> None:
        self.output = output
        self.done: set[str] = set()
        self.dropped_partial = False
        self._fd: int | None = None
        self._sync = True  # fsync on close: a regular file the user keeps
        if output is None:
            if header:
                self._write_stdout(header)
            return
        path = Path(output)
        if path.is_dir():
            raise SerkitError(f"{output}: is a folder; --output takes a file name")
        if writes_through(path):  # /dev/stdout, /dev/null, a FIFO: nothing to read, resume, truncate or fsync
            self._fd = open_through(path)
            self._sync = False
            if header:
                self._write_file(self._fd, header)
            return
        raw = path.read_bytes() if path.exists() and not overwrite else b""
        cut = raw.rfind(b"\n") + 1  # whole lines only: a last line without its newline was cut off mid-write
        text = decode_text(raw[:cut])
        done: list[str] = []
        if raw and raw != (header or "").encode():
            # Whole lines of this format's results (CSV: its fixed leading columns, as another model's class
            # columns are still serkit's output) are an earlier run's, which --resume may continue; anything
            # else is the user's file, never resumed into nor advised for it. One parse serves both.
            first, body = text.partition("\n")[::2] if header else ("", text)
            try:
                done = keys(body) if body else []
                ours = bool(text) and (not header or first.startswith(",".join(header.split(",")[:3])))
            except ValueError:
                ours = False
            if not ours:
                raise SerkitError(
                    f"{output}: exists and is not an earlier serkit {what} output; pass --overwrite to replace "
                    "it, or choose another --output"
                )
            if not resume:
                raise SerkitError(
                    f"{output}: exists and is not empty; pass --resume to add only the files not in it yet "
                    "(the safe choice), --overwrite to replace it, or choose another --output"
                )
            if header and first + "\n" != header:
                raise SerkitError(
                    f"{output}: its first line is not the {what} header of this model "
                    f"({first[:80]!r}); resume with the same --model and --format, or choose another "
                    "--output"
                )
        self.done = set(done)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        if overwrite:
            os.ftruncate(self._fd, 0)
        if cut < len(raw):
            self.dropped_partial = True
            os.ftruncate(self._fd, cut)
        if header and not text:
            self._write_file(self._fd, header)

    def write(self, line: str) -> None:
        """One whole line, written at once and flushed: visible to a reader, and kept if the run dies next."""
        if not line.endswith("\n"):
            line += "\n"
        if self._fd is None:
            self._write_stdout(line)
        else:
            self._write_file(self._fd, line)

    def close(self) -> None:
        if self._fd is not None:
            try:
                if self._sync:
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> ResultLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _write_stdout(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    @staticmethod
    def _write_file(fd: int, line: str) -> None:
        write_all(fd, encode_text(line))
