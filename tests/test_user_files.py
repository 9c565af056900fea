"""Files the user owns (issue #18, items 1-4 and 11), through the real CLI in a subprocess.

serkit writes only what it created, or what the user names and serkit recognises as its own output of the
same kind; it never writes onto an input; it keeps the user's files inside a folder it replaces; a second
writer to one output is refused; a file name that is not UTF-8 is read and written back byte for byte; a
failed write is one line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fixtures as fx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ODD = os.fsdecode(b"take \xff\xfe.flac")  # a name the OS accepts that is not UTF-8


def serkit(*args: str | Path, cwd: Path | None = None, timeout: float = 300) -> tuple[int, str, str]:
    """Run `python -m serkit.cli ARGS`; stdout and stderr decoded as the file names are (surrogateescape)."""
    r = subprocess.run([sys.executable, "-m", "serkit.cli", *map(str, args)], capture_output=True, cwd=cwd,
                       timeout=timeout)
    return r.returncode, os.fsdecode(r.stdout), os.fsdecode(r.stderr)


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("serkit: error:"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture()
def clips(tmp_path) -> Path:
    """Three real RAVDESS recordings from examples/, in a folder of their own."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for f in sorted(EXAMPLES.glob("*.flac"))[:3]:
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data) -> Path:
    """A RAVDESS-layout tree of links to 32 real files (4 actors), one actor folder named with bytes
    that are not UTF-8."""
    root = fx.link_ravdess_tree(tmp_path_factory.mktemp("corpus") / "ravdess",
                                fx.real_ravdess_files(actors=(1, 2, 3, 4), per_class=2))
    os.rename(root / "Actor_04", os.fsdecode(os.fsencode(root / "Actor_04") + b"\xff"))
    return root


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, corpus) -> Path:
    """A small bundle (spectral_stats, logreg, per-corpus normalisation) with its evaluation folder."""
    out = tmp_path_factory.mktemp("bundle") / "model"
    rc, _, err = serkit("train", "--data", corpus, "--features", "spectral_stats", "--model", "logreg",
                        "--normalize", "corpus", "--quiet", "--output", out)
    assert rc == 0, err
    assert (out / "evaluation" / "metrics.json").is_file()
    return out


# --------------------------------------------------------------------------- 1. output onto an input


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_predict_never_writes_onto_its_input(clips, fmt, overwrite):
    target = sorted(clips.iterdir())[0]
    before = target.read_bytes()
    rc, _, err = serkit("predict", clips, "--format", fmt, "--output", target, "--quiet",
                        *(["--overwrite"] if overwrite else []))
    assert rc == 2
    assert "is one of the inputs" in one_error_line(err)
    assert target.read_bytes() == before


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
def test_predict_refuses_a_file_it_did_not_write_unless_overwrite(clips, tmp_path, fmt):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    rc, _, err = serkit("predict", clips, "--format", fmt, "--output", notes, "--quiet")
    assert rc == 2 and "--overwrite" in one_error_line(err)
    assert notes.read_text() == "my notes\n"
    rc, _, err = serkit("predict", clips, "--format", fmt, "--output", notes, "--quiet", "--overwrite")
    assert rc == 0, err
    assert "my notes" not in notes.read_text() and sorted(clips.iterdir())[0].name in notes.read_text()


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_predict_replaces_its_own_earlier_output(clips, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    assert serkit("predict", clips, "--format", fmt, "--output", out, "--quiet")[0] == 0
    first = out.read_bytes()
    rc, _, err = serkit("predict", clips, "--format", fmt, "--output", out, "--quiet")
    assert rc == 0, err
    assert out.read_bytes() == first


def test_corpus_scan_never_writes_onto_its_manifest_and_keeps_other_files(tmp_path):
    manifest = fx.write_manifest(tmp_path / "m.csv", [(f, "neutral", "01") for f in sorted(EXAMPLES.glob("*.flac"))])
    before = manifest.read_bytes()
    for extra in ([], ["--overwrite"]):
        rc, _, err = serkit("corpus", "scan", manifest, "--format", "csv", "--output", manifest, *extra)
        assert rc == 2 and "is one of the inputs" in one_error_line(err)
        assert manifest.read_bytes() == before
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    rc, _, err = serkit("corpus", "scan", manifest, "--format", "json", "--output", notes)
    assert rc == 2 and "--overwrite" in one_error_line(err) and notes.read_text() == '{"mine": 1}'
    for fmt in ("json", "csv", "table"):  # an earlier scan of the same format is serkit's: replaced
        out = tmp_path / f"scan.{fmt}"
        assert serkit("corpus", "scan", manifest, "--format", fmt, "--output", out)[0] == 0
        rc, _, err = serkit("corpus", "scan", manifest, "--format", fmt, "--output", out)
        assert rc == 0, err


def test_plot_never_writes_onto_its_input_nor_over_an_image_it_did_not_draw(clips, tmp_path):
    wav = sorted(clips.iterdir())[0]
    before = wav.read_bytes()
    for extra in ([], ["--overwrite"]):
        rc, _, err = serkit("plot", "audio", wav, "--output", wav, *extra)
        assert rc == 2 and "is one of the inputs" in one_error_line(err) and wav.read_bytes() == before
    png = tmp_path / "photo.png"
    shutil.copy(Path(__file__).resolve().parents[1] / "docs" / "screenshot.png", png)
    photo = png.read_bytes()
    rc, _, err = serkit("plot", "audio", wav, "--output", png)
    assert rc == 2 and "--overwrite" in one_error_line(err) and png.read_bytes() == photo
    mine = tmp_path / "mine.png"
    assert serkit("plot", "audio", wav, "--output", mine)[0] == 0
    assert serkit("plot", "audio", sorted(clips.iterdir())[1], "--output", mine)[0] == 0  # its own: replaced


# --------------------------------------------------------------------------- 2. the user's files in an output folder


def _user_files(folder: Path) -> dict[str, bytes]:
    (folder / "NOTES.txt").write_text("what I found\n")
    (folder / "recordings").mkdir()
    shutil.copy(sorted(EXAMPLES.glob("*.flac"))[0], folder / "recordings" / "mine.flac")
    (folder / "analysis.ipynb").write_text('{"cells": []}')
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
            and p.relative_to(folder).parts[0] in ("NOTES.txt", "recordings", "analysis.ipynb")}


def _still_there(folder: Path, files: dict[str, bytes]) -> None:
    assert {name: (folder / name).read_bytes() for name in files} == files


def test_train_over_a_bundle_keeps_the_users_files(bundle, corpus, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(bundle, out)
    mine = _user_files(out)
    rc, _, err = serkit("train", "--data", corpus, "--features", "spectral_stats", "--model", "logreg",
                        "--normalize", "corpus", "--quiet", "--no-evaluate", "--output", out)
    assert rc == 0, err
    _still_there(out, mine)
    assert not (out / "evaluation").exists()  # serkit's own entries are replaced


def test_evaluate_over_an_earlier_evaluation_keeps_the_users_files_and_refuses_a_clash(corpus, tmp_path):
    out = tmp_path / "eval"
    args = ("evaluate", "--data", corpus, "--features", "spectral_stats", "--model", "logreg", "--quiet")
    assert serkit(*args, "--output", out)[0] == 0
    mine = _user_files(out)
    rc, _, err = serkit(*args, "--output", out)
    assert rc == 0, err
    _still_there(out, mine)
    (out / "logreg").mkdir()  # the user's folder, named like the model sub-folder a two-model run writes
    (out / "logreg" / "draft.txt").write_text("draft")
    rc, _, err = serkit(*args[:-2], "logreg,random_forest", "--quiet", "--output", out)
    assert rc == 2 and "logreg" in one_error_line(err)
    assert (out / "logreg" / "draft.txt").read_text() == "draft"
    _still_there(out, mine)


def test_adapt_over_an_adapted_bundle_keeps_the_users_files(bundle, corpus, tmp_path):
    out = tmp_path / "adapted"
    assert serkit("adapt", corpus, "--model", bundle, "--output", out, "--quiet")[0] == 0
    mine = _user_files(out)
    rc, _, err = serkit("adapt", corpus, "--model", bundle, "--output", out, "--quiet")
    assert rc == 0, err
    _still_there(out, mine)
    assert not list(tmp_path.glob(".adapted.*"))  # no temporary folder left behind


# --------------------------------------------------------------------------- 3. concurrent writers

HOLD = """
import sys, time
from serkit.io import output_lock
with output_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(output: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(output)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_a_second_writer_is_refused_naming_the_pid_and_a_killed_one_blocks_nothing(clips, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    holder = _holder(out)
    try:
        rc, _, err = serkit("predict", clips, "--format", fmt, "--output", out, "--quiet")
        assert rc == 2 and f"pid {holder.pid}" in one_error_line(err)
        assert not out.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    rc, _, err = serkit("predict", clips, "--format", fmt, "--output", out, "--quiet")
    assert rc == 0, err
    assert not (tmp_path / f".out.{fmt}.serkit-lock").exists()  # cleaned up on exit


def test_two_predicts_started_together_never_interleave(clips, tmp_path):
    for k in range(4):  # more files, so both runs overlap
        shutil.copy(sorted(EXAMPLES.glob("*.flac"))[3 + k], clips / f"extra{k}.flac")
    out = tmp_path / "same.jsonl"
    cmd = [sys.executable, "-m", "serkit.cli", "predict", str(clips), "--format", "jsonl", "--output", str(out),
           "--quiet"]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    paths = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    assert sorted(paths) == sorted(str(f) for f in clips.iterdir())  # every file once
    assert sorted(rc for rc, _ in results) == [0, 2], results


def test_a_folder_being_written_is_refused(corpus, tmp_path):
    out = tmp_path / "eval"
    holder = _holder(out)
    try:
        rc, _, err = serkit("evaluate", "--data", corpus, "--features", "spectral_stats", "--model", "logreg",
                            "--quiet", "--output", out)
        assert rc == 2 and f"pid {holder.pid}" in one_error_line(err)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


# --------------------------------------------------------------------------- 4. names that are not UTF-8


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
def test_a_name_that_is_not_utf8_is_predicted_and_written_byte_for_byte(clips, tmp_path, fmt):
    shutil.copy(sorted(EXAMPLES.glob("*.flac"))[5], clips / ODD)
    out = tmp_path / f"out.{fmt}"
    rc, _, err = serkit("predict", clips, "--format", fmt, "--output", out, "--quiet")
    assert rc == 0, err
    raw = out.read_bytes()
    if fmt == "json" or fmt == "jsonl":
        assert b"take \\udcff\\udcfe.flac" in raw  # JSON's escapes, read back as the same str
        rows = json.loads(raw) if fmt == "json" else [json.loads(line) for line in raw.splitlines()]
        assert str(clips / ODD) in [r["path"] for r in rows] and all(r.get("label") for r in rows)
    else:
        assert b"take \xff\xfe.flac" in raw and b"ERROR" not in raw
    if fmt in ("jsonl", "csv"):
        rc, _, err = serkit("predict", clips, "--format", fmt, "--output", out, "--resume", "--quiet")
        assert rc == 0 and "all 4 files are already in" in err
        assert out.read_bytes() == raw


def test_a_corpus_folder_that_is_not_utf8_is_read_and_its_names_written_back(corpus, tmp_path):
    out = tmp_path / "eval"
    rc, stdout, err = serkit("evaluate", "--data", corpus, "--features", "spectral_stats", "--model", "logreg",
                             "--quiet", "--output", out)
    assert rc == 0, err
    assert "32 files" in stdout  # the 8 files under Actor_04\xff too
    assert (os.fsencode(corpus) + b"/Actor_04\xff/03-01-") in (out / "predictions.csv").read_bytes()


@pytest.mark.parametrize("command", ["evaluate", "train", "features", "scan"])
def test_every_command_that_reads_a_corpus_reports_what_it_skipped(corpus, tmp_path, command):
    data = tmp_path / "ravdess"
    shutil.copytree(corpus, data, symlinks=True)
    (data / "Actor_01" / "notes-about-this.flac").symlink_to(sorted(EXAMPLES.glob("*.flac"))[0])  # off-scheme name
    os.mkfifo(data / "Actor_02" / "03-01-05-01-01-09-02.flac")  # a named pipe with an audio name
    args = {"evaluate": ["evaluate", "--data", data, "--features", "spectral_stats", "--model", "logreg", "--quiet"],
            "train": ["train", "--data", data, "--features", "spectral_stats", "--model", "logreg", "--quiet",
                      "--no-evaluate", "--output", tmp_path / "b"],
            "features": ["features", "extract", "--data", data, "--features", "spectral_stats", "--quiet"],
            "scan": ["corpus", "scan", data, "--format", "csv", "--output", tmp_path / "scan.csv"]}[command]
    rc, _, err = serkit(*args)
    assert rc == 0, err
    warnings = [line for line in err.splitlines() if "skipped" in line]
    assert len(warnings) == 1 and warnings[0].startswith("serkit: warning: 2 entries"), err


# --------------------------------------------------------------------------- 11. a failed write is one line

FULL_DISK = """
import errno, os, shutil, sys
real = shutil.copyfile
def copyfile(src, dst, **kw):  # the disk is full by the time the evaluation folder is copied
    if os.path.basename(os.path.dirname(dst)) == "evaluation":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), dst)
    return real(src, dst, **kw)
shutil.copyfile = copyfile
from serkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_during_adapt_is_one_line_naming_the_path_and_the_reason(bundle, corpus, tmp_path):
    out = tmp_path / "adapted"
    r = subprocess.run([sys.executable, "-c", FULL_DISK, "adapt", str(corpus), "--model", str(bundle), "--output",
                        str(out), "--quiet"], capture_output=True, timeout=300)
    err = os.fsdecode(r.stderr)
    line = one_error_line(err)
    assert r.returncode == 2
    assert len(line) < 300 and "No space left on device" in line and str(out) in line, line
    assert "[(" not in line  # not the repr of shutil's error list
    assert not out.exists() and not list(tmp_path.glob(".adapted.*"))


def test_a_really_full_disk_during_adapt_is_one_line(bundle, corpus, tmp_path):
    """The same on a real full file system: a 40 KiB tmpfs (needs root to mount; skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        out = disk / "adapted"
        rc, _, err = serkit("adapt", corpus, "--model", bundle, "--output", out, "--quiet")
        line = one_error_line(err)
        assert rc == 2 and len(line) < 300 and "No space left on device" in line and f"{out}/" in line, line
        assert not list(disk.iterdir())  # nothing half-written left behind
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_users_entry_named_like_a_bundle_entry_is_refused_before_training(bundle, corpus, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(bundle, out)
    shutil.rmtree(out / "evaluation")
    (out / "evaluation").mkdir()  # the user's own folder of that name
    (out / "evaluation" / "listening-test.txt").write_text("mine")
    started = time.monotonic()
    rc, _, err = serkit("train", "--data", corpus, "--features", "spectral_stats", "--model", "logreg",
                        "--normalize", "corpus", "--quiet", "--output", out)
    assert rc == 2 and "evaluation: not written by serkit" in one_error_line(err)
    assert (out / "evaluation" / "listening-test.txt").read_text() == "mine"
    assert time.monotonic() - started < 30  # before the features and folds, not after


def test_an_output_that_is_a_link_stays_a_link(clips, tmp_path):
    """A link to a device (like /dev/stdout) is written through; a link to a file keeps pointing at it."""
    device = tmp_path / "to-null"
    device.symlink_to(os.devnull)
    rc, _, err = serkit("predict", clips, "--format", "json", "--output", device, "--quiet")
    assert rc == 0, err
    assert device.is_symlink() and os.readlink(device) == os.devnull
    real = tmp_path / "runs" / "today.json"
    real.parent.mkdir()
    latest = tmp_path / "latest.json"
    latest.symlink_to(real)
    for _ in range(2):  # written, then replaced as serkit's own
        rc, _, err = serkit("predict", clips, "--format", "json", "--output", latest, "--quiet")
        assert rc == 0, err
    assert latest.is_symlink() and json.loads(real.read_text())[0]["label"]


# --------------------------------------------------------------------------- 1. devices and pipes as --output

NO_FILES_IN_DEV = """
import os, sys
made = []
real_open, real_mkstemp = os.open, __import__("tempfile").mkstemp
def watched_open(path, flags, *a, **kw):  # every file this run creates, or tries to
    if flags & os.O_CREAT:
        made.append(os.fsdecode(path))
    return real_open(path, flags, *a, **kw)
os.open = watched_open
from serkit.cli import main
try:
    code = main(sys.argv[1:])
finally:
    print("created:", [p for p in made if os.path.abspath(p).startswith("/dev/")], file=sys.stderr)
sys.exit(code)
"""


def _reader(fifo: Path) -> tuple[subprocess.Popen, Path]:
    """A reader on the FIFO, as a user's `cat > got`; it waits until something opens the FIFO to write."""
    got = fifo.with_name(fifo.name + ".got")
    with open(got, "wb") as sink:
        return subprocess.Popen(["cat", str(fifo)], stdout=sink), got


def _read(reader: tuple[subprocess.Popen, Path]) -> bytes | None:
    """What the reader got, or None when nothing ever wrote into the FIFO (it was replaced, not written)."""
    process, got = reader
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
    return got.read_bytes()


def _nothing_hidden(folder: Path) -> None:
    """No lock file and no temporary file left beside the output."""
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_streamed_output_to_stdout_or_dev_null_is_written_through(clips, fmt):
    """`--output /dev/stdout | cat` used to hang reading its own pipe; /dev/null failed in fsync at the end."""
    rc, out, err = serkit("predict", clips, "--format", fmt, "--output", "/dev/stdout", "--quiet", timeout=60)
    assert rc == 0, err
    assert len(out.splitlines()) == 3 + (fmt == "csv") and all(f.name in out for f in clips.iterdir())
    for extra in ([], ["--overwrite"], ["--resume"]):
        r = subprocess.run([sys.executable, "-c", NO_FILES_IN_DEV, "predict", str(clips), "--format", fmt,
                            "--output", "/dev/null", "--quiet", *extra], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stderr.strip() == "created: []", r.stderr  # no lock in /dev, no error
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def _fifo_output(fifo: Path, link: Path | None):
    """A FIFO to write --output into, optionally through a link to it, with a reader already waiting on it:
    (fifo, the path to pass as --output, the reader)."""
    os.mkfifo(fifo)
    if link is not None:
        link.symlink_to(fifo)
    return fifo, link or fifo, _reader(fifo)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "table"])
@pytest.mark.parametrize("link", [False, True])
def test_predict_into_a_fifo_writes_into_it(clips, tmp_path, fmt, link):
    fifo, target, reader = _fifo_output(tmp_path / "results.fifo", tmp_path / "latest" if link else None)
    rc, _, err = serkit("predict", clips, "--format", fmt, "--output", target, "--quiet", timeout=60)
    got = _read(reader)
    assert rc == 0, err
    assert got is not None and all(f.name.encode() in got for f in clips.iterdir())
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and target.is_symlink() == link
    _nothing_hidden(tmp_path)


@pytest.mark.parametrize("link", [False, True])
def test_plot_into_a_fifo_writes_into_it_and_never_replaces_it(clips, tmp_path, link):
    """As `plot audio FILE --output /dev/null` run as root must not replace /dev/null with a file: shown on a FIFO."""
    fifo, target, reader = _fifo_output(tmp_path / "picture.fifo", tmp_path / "latest.png" if link else None)
    rc, _, err = serkit("plot", "audio", sorted(clips.iterdir())[0], "--output", target, timeout=60)
    got = _read(reader)
    assert rc == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a file"
    assert got is not None and got.startswith(b"\x89PNG")
    _nothing_hidden(tmp_path)


def test_stdout_redirected_to_a_file_is_written_through_not_replaced(clips, tmp_path):
    """`serkit predict ... --output /dev/stdout > log`: the shell's file gets the output (same inode), and
    no lock or temporary file is made in /dev."""
    log = tmp_path / "log.json"
    with open(log, "wb") as fh:
        before = os.fstat(fh.fileno()).st_ino
        r = subprocess.run([sys.executable, "-c", NO_FILES_IN_DEV, "predict", str(clips), "--format", "json",
                            "--output", "/dev/stdout", "--quiet"], stdout=fh, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "created: []", r.stderr
    assert os.stat(log).st_ino == before
    assert len(json.loads(log.read_text())) == 3


# --------------------------------------------------------------------------- 2. which entries of a bundle are serkit's


def test_a_users_evaluation_notes_in_a_bundle_folder_are_kept(bundle, corpus, tmp_path):
    """Only the names a bundle writes are refused: a user's `evaluation_notes.md` or `evaluation_drafts/` is kept."""
    out = tmp_path / "model"
    shutil.copytree(bundle, out)
    (out / "evaluation_notes.md").write_text("to check\n")
    (out / "evaluation_drafts").mkdir()
    (out / "evaluation_drafts" / "plan.txt").write_text("plan\n")
    rc, _, err = serkit("train", "--data", corpus, "--features", "spectral_stats", "--model", "logreg",
                        "--normalize", "corpus", "--quiet", "--no-evaluate", "--output", out)
    assert rc == 0, err
    assert (out / "evaluation_notes.md").read_text() == "to check\n"
    assert (out / "evaluation_drafts" / "plan.txt").read_text() == "plan\n"
    assert not (out / "evaluation").exists()  # serkit's own evaluation folder is replaced


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("resume", [False, True])
def test_a_users_file_is_never_resumed_into_nor_advised_for_resume(clips, tmp_path, fmt, resume):
    """jsonl/csv output onto a file serkit did not write: one line that asks for --overwrite (never advising
    --resume, which would append to it), with or without --resume, and the file is untouched."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\nsecond line\n")
    rc, out, err = serkit("predict", clips, "--format", fmt, "--output", notes, "--quiet",
                          *(["--resume"] if resume else []))
    line = one_error_line(err)
    assert rc == 2 and f"is not an earlier serkit {fmt} output" in line and "--resume" not in line, err
    assert notes.read_text() == "my notes\nsecond line\n"
