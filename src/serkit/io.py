"""Writing what users keep: every file and folder appears whole under its final name, or not at all.

The lowest layer beside audio and errors: anything that writes (reports, bundles, the feature
cache, plots, the CLI) goes through here, so the write-then-rename rule lives in one place.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


@functools.lru_cache(maxsize=1)
def umask() -> int:
    """The process umask, read once: os.umask can only be read by setting it, which races with threads."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Write-then-rename: a crash never leaves a half-written file under the final name.

    durable: fsync before the rename, for what users keep (reports, bundles); the cache,
    which is recomputed when lost, skips it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600; a user's file gets the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def write_folder_atomically(out: str | Path, fill: Callable[[Path], None]) -> Path:
    """fill(tmp) writes a whole folder into a temporary sibling, which then replaces `out`.

    The caller checks first that `out` is absent, empty or its own kind of folder: this
    function replaces whatever is there.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; what serkit writes is meant to be shared
    try:
        fill(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
