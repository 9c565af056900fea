"""Files and folders: writing what users keep (whole under its final name, or not at all), walking trees.

The lowest layer beside audio and errors: anything that writes (reports, bundles, the feature
cache, plots, the CLI) goes through here, so the write-then-rename rule lives in one place; and
anything that collects files from a tree (corpora, prediction) walks it with walk_files, so links,
FIFOs and unreadable entries are treated the same way everywhere.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import functools
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path

from serkit.errors import OutputBusyError, OutputError


@functools.lru_cache(maxsize=1)
def umask() -> int:
    """The process umask, read once: os.umask can only be read by setting it, which races with threads."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Paths that name an open file, a device or a process's view of one (/dev/stdout, /dev/fd/3, /dev/null,
# /proc/self/fd/1): whatever they resolve to, serkit writes into them and never creates, replaces or locks
# anything there. /dev/shm is an ordinary (memory) file system, written like any folder.
_STREAM_ROOTS = ("/dev/", "/proc/")
_FILE_ROOTS = ("/dev/shm/",)


def _spellings(path: str | Path) -> Iterator[str]:
    """The path, then each link it goes through, as absolute paths (a chain of at most 40 links)."""
    current = os.path.abspath(path)
    for _ in range(40):
        yield current
        try:
            target = os.readlink(current)
        except OSError:
            return
        current = os.path.abspath(os.path.join(os.path.dirname(current), target))


def writes_through(path: str | Path) -> bool:
    """Whether an output is written straight through rather than replaced, resumed or locked.

    True for an existing target that is neither a regular file nor a folder (a character device such as
    /dev/null, a FIFO, a socket, or a link to one), and for any path in /dev or /proc or linking there
    (/dev/stdout stays a write through even when the shell redirected it to a file): there is nothing on disk
    to lose, reading it could block, fsync and ftruncate fail on it, and a temporary file or lock beside it
    would land in /dev. Every writer of an --output asks this one question.

    Args:
        path: the output as the user named it.

    Returns:
        True to open the target and write into it (no temporary file, no rename, no lock, no fsync).
    """
    for spelling in _spellings(path):
        if spelling.startswith(_STREAM_ROOTS) and not spelling.startswith(_FILE_ROOTS):
            return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def open_through(path: str | Path) -> int:
    """Open a writes_through target for appending, never creating it (serkit makes no file in /dev).

    Args:
        path: the device, FIFO or /dev/stdout-like path.

    Returns:
        A file descriptor open for writing; the caller closes it.

    Raises:
        OSError: the target cannot be opened (no such device, no permission).
    """
    return os.open(path, os.O_WRONLY | os.O_APPEND)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of data to fd (os.write may write less than it is given, on a pipe for one).

    Args:
        fd: a file descriptor open for writing.
        data: the bytes to write.
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Write-then-rename: a crash never leaves a half-written file under the final name.

    A target that writes_through (/dev/stdout, /dev/null, a FIFO, a link to one) is written straight
    through instead: there is no file to replace, and a temporary file beside it would land in /dev.

    Args:
        path: the file to write; a link to a file keeps being a link (the file it names is replaced).
        data: the whole content.
        durable: fsync before the rename, for what users keep (reports, bundles); the cache,
            which is recomputed when lost, skips it.

    Raises:
        OSError: the write failed; the previous file, if any, is as it was.
    """
    if writes_through(path):
        fd = open_through(path)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        return
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # the file the link names is replaced; the user's link stays
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


def encode_text(text: str) -> bytes:
    """Text as the bytes serkit writes: the filesystem encoding with surrogateescape.

    Why: a file name that is not valid UTF-8 (bytes such as \\xff\\xfe, which POSIX allows) reaches Python as
    a str with lone surrogates; this writes back exactly the bytes of the name, and decode_text reads them back
    into the same str, so an output names the file the user has and `--resume` recognises it.
    """
    return text.encode(sys.getfilesystemencoding(), "surrogateescape")


def decode_text(data: bytes) -> str:
    """The inverse of encode_text: the same str for the same bytes, every time."""
    return data.decode(sys.getfilesystemencoding(), "surrogateescape")


def atomic_write_text(path: str | Path, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, encode_text(text), durable=durable)


# --------------------------------------------------------------------------- what serkit may write over


_ERRNO_TEXT = re.compile(r"^\[Errno \d+\] ([^:]+)")


def describe_os_error(exc: OSError) -> str:
    """One line for a failed read or write: the path, then the reason (never the repr of an error list).

    shutil.copytree gathers every failure into one shutil.Error whose text is a list of (src, dst, reason)
    tuples, often hundreds of characters per file; here that is its first failure, and a count of the rest.
    """
    entries = exc.args[0] if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) else None
    if entries:
        first = entries[0]
        dst, why = (first[1], str(first[2])) if isinstance(first, tuple) and len(first) == 3 else ("", str(first))
        match = _ERRNO_TEXT.match(why)
        reason = match.group(1) if match else why
        more = f" (and {len(entries) - 1} more)" if len(entries) > 1 else ""
        return f"{dst}: {reason}{more}" if dst else f"{reason}{more}"
    where, target = getattr(exc, "filename", None), getattr(exc, "filename2", None)
    reason = exc.strerror or str(exc)
    if where and target:  # a copy or a rename: what failed is writing the target
        return f"{target}: {reason} (copying {where})"
    return f"{where}: {reason}" if where else reason


def lock_path(output: str | Path) -> Path:
    """The hidden lock file beside an output: .NAME.serkit-lock."""
    out = Path(output)
    return out.with_name(f".{out.name}.serkit-lock")


@contextlib.contextmanager
def output_lock(output: str | Path) -> Iterator[None]:
    """Hold the output for this run: a second run writing the same output is refused with the holder's pid.

    Why flock and not an O_EXCL file: the kernel drops a flock when its holder dies, SIGKILL included, so a
    killed run never blocks the next one (its stale lock file is simply locked again). The pid written into
    the file is only for the message. The file is removed on exit; a holder checks after locking that the
    file it locked is still the one on disk, so a run that opened it just before it was removed tries again.

    A target that writes_through (/dev/stdout, /dev/null, a FIFO) takes no lock: nothing is replaced there,
    and no lock file is ever made in /dev.

    Raises:
        OutputBusyError: another process holds the output.
        OutputError: the lock cannot be created beside the output (no such folder, no permission).
    """
    import fcntl

    if writes_through(output):
        yield
        return
    path = lock_path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {describe_os_error(exc)}") from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~umask())
        except OSError as exc:
            raise OutputError(f"cannot lock {output}: {describe_os_error(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                text = os.read(fd, 32).decode("ascii", "replace").strip()
            finally:
                os.close(fd)
            raise OutputBusyError(output, int(text) if text.isdigit() else None) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # locked a file its holder removed on the way out: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


# --------------------------------------------------------------------------- replacing a folder


def write_folder_atomically(out: str | Path, fill: Callable[[Path], None], *, ours: Callable[[Path], bool]) -> Path:
    """fill(tmp) writes a whole folder into a temporary sibling, which then replaces `out`.

    Only serkit's own entries of the old folder are replaced: every entry `ours` does not claim (the user's
    notes, recordings, notebooks) is moved, unchanged, into the new folder before the swap. One whose name
    the new folder also uses is refused before anything changes. The caller checks first that `out` is
    absent, empty or its own kind of folder.

    Args:
        out: the folder to write.
        fill: writes the new folder's entries into the folder it is given.
        ours: whether an entry of the existing folder is serkit's (replaced) rather than the user's (kept).

    Raises:
        OutputError: a user's entry has a name the new folder uses, or writing failed (one line: what, where,
            why; the previous folder and everything in it stays as it was).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; what serkit writes is meant to be shared
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    carried: list[str] = []  # the user's entries moved into tmp, moved back if the swap does not happen
    try:
        try:
            fill(tmp)
        except OSError as exc:
            where = describe_os_error(exc).replace(str(tmp), str(out))  # the path as the user knows it
            raise OutputError(f"could not write {out}: {where}") from None
        if out.exists():
            users = sorted(e.name for e in out.iterdir() if not ours(e))
            clash = [name for name in users if os.path.lexists(tmp / name)]
            if clash:
                raise OutputError(
                    f"{out / clash[0]}: not written by serkit, and this run writes an entry of that "
                    "name; move it away or choose another output",
                    params=("output",),
                )
            for name in users:
                os.rename(out / name, tmp / name)
                carried.append(name)
            os.replace(out, old)
            os.replace(tmp, out)
            carried = []
            shutil.rmtree(old, ignore_errors=True)  # only serkit's entries are left in it
        else:
            os.replace(tmp, out)
    except BaseException:
        if old.exists() and not out.exists():
            os.replace(old, out)  # the swap broke half-way: the previous folder comes back
        for name in carried:
            os.rename(tmp / name, out / name)  # and the user's entries go back into it
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


_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def walk_files(root: str | Path, accept: Callable[[Path], bool]) -> tuple[list[Path], list[tuple[Path, str]]]:
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
                    gone = (
                        EntryProblem.BROKEN_LINK.value
                        if entry.is_symlink()
                        else f"{EntryProblem.UNREADABLE.value} (removed while scanning)"
                    )
                    problems.append((path, gone))
                continue
            except PermissionError:
                if accept(path):
                    problems.append((path, EntryProblem.PERMISSION.value))
                continue
            except OSError as exc:
                if accept(path):
                    loop = exc.errno == errno.ELOOP
                    problems.append(
                        (
                            path,
                            EntryProblem.LINK_LOOP.value
                            if loop
                            else f"{EntryProblem.UNREADABLE.value} ({exc.strerror})",
                        )
                    )
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
