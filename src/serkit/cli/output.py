"""What the CLI prints: writing to stdout or to a file (atomically), and the tables people read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2


def emit(text: str, output: str | None) -> None:
    if output:
        if Path(output).is_dir():
            from serkit.errors import SerkitError

            raise SerkitError(f"{output}: is a folder; --output takes a file name")
        from serkit.io import atomic_write_bytes

        atomic_write_bytes(Path(output), text.encode())
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")



def segment_line(segment: Any, *, indent: int = 4) -> str:
    """One speech segment of a timeline: start-end, label, confidence."""
    return f"{'':{indent}s}{segment.start:8.2f}-{segment.end:8.2f} s  {segment.label:10s} {segment.confidence:5.2f}"
