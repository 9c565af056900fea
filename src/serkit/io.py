"""Files and folders: writing what users keep (whole under its final name, or not at all), walking trees.

The lowest layer beside audio and errors: anything that writes (reports, bundles, the feature
cache, plots, the CLI) goes through here, so the write-then-rename rule lives in one place; and
anything that collects files from a tree (corpora, prediction) walks it with walk_files, so links,
FIFOs and unreadable entries are treated the same way everywhere.
"""

from __future__ import annotations

import collections
import errno
import functools
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from enum import Enum
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


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks: the feature cache's content key, the ONNX manifest's check."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    try:
        fill(tmp)
        if out.exists():
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        if old.exists() and not out.exists():
            os.replace(old, out)  # the swap broke half-way: the previous folder comes back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# --------------------------------------------------------------------------- reading trees


class EntryProblem(str, Enum):
    """Why a walked entry with a wanted name cannot be read (the closed set walk_files reports)."""

    NOT_REGULAR = "not a regular file"
    BROKEN_LINK = "broken symbolic link"
    LINK_LOOP = "symbolic link loop"
    PERMISSION = "permission denied"
    FOLDER_PERMISSION = "folder cannot be listed: permission denied"
    UNREADABLE = "cannot be read"


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def walk_files(
    root: str | Path, accept: Callable[[Path], bool]
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Regular files below root whose names `accept` takes, and every such entry that cannot be read.

    Why not Path.rglob: it does not follow symlinked folders (a corpus assembled from links reads as
    empty) and a FIFO or a dangling link would vanish without a word. Here symlinked folders are
    followed, each real folder once (a link loop ends there; a folder reachable both directly and
    through a link is listed under its direct path), and a wanted name that is a FIFO, socket
    or device, a broken or looping link, or unreadable comes back with its reason (an EntryProblem
    value). A sub-folder that cannot be listed is reported too: whatever it holds would otherwise be
    lost silently. Paths keep the spelling under root (links are not resolved), sorted.
    The root itself must be a listable folder (OSError otherwise).
    """
    root = Path(root)
    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    seen: set[str] = set()
    stack: list[Path] = [root]
    linked: collections.deque[Path] = collections.deque()  # linked folders wait until every direct one is walked
    while stack or linked:
        folder = stack.pop() if stack else linked.popleft()
        real = os.path.realpath(folder)
        if real in seen:  # a loop, or a folder already reached by another way
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except PermissionError:
            if folder == root:
                raise
            problems.append((folder, EntryProblem.FOLDER_PERMISSION.value))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                st = os.stat(entry.path)  # follows links
            except FileNotFoundError:
                if accept(path):
                    gone = EntryProblem.BROKEN_LINK.value if entry.is_symlink() \
                        else f"{EntryProblem.UNREADABLE.value} (removed while scanning)"
                    problems.append((path, gone))
                continue
            except PermissionError:
                if accept(path):
                    problems.append((path, EntryProblem.PERMISSION.value))
                continue
            except OSError as exc:
                if accept(path):
                    loop = exc.errno == errno.ELOOP
                    problems.append((path, EntryProblem.LINK_LOOP.value if loop
                                         else f"{EntryProblem.UNREADABLE.value} ({exc.strerror})"))
                continue
            if stat.S_ISDIR(st.st_mode):
                (linked if entry.is_symlink() else stack).append(path)
                continue
            if not accept(path):
                continue
            if not stat.S_ISREG(st.st_mode):
                kind = next((name for test, name in _KINDS if test(st.st_mode)), "")
                reason = EntryProblem.NOT_REGULAR.value
                problems.append((path, f"{reason} ({kind})" if kind else reason))
            elif not os.access(entry.path, os.R_OK):
                problems.append((path, EntryProblem.PERMISSION.value))
            else:
                files.append(path)
    return sorted(files), sorted(problems)
