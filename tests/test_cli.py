"""The command line: help everywhere, corpus scans, one-line errors, predict and the feature cache."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import fixtures as fx
from serkit import cli
from serkit.corpora import COLUMNS
from serkit.inference import UNCERTAIN

SERKIT = Path(sys.executable).parent / "serkit"  # the installed console script
EMOTIONS = ("happy", "sad", "angry")


def run_module(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serkit.cli", *args], capture_output=True, text=True, timeout=timeout)


def run_main(capsys, argv: list[str]) -> tuple[int, str, str]:
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- help


def parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for the root parser and every sub-parser below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


ALL_PARSERS = list(parsers(cli.build_parser()))


def test_parser_tree_covers_every_command():
    paths = {" ".join(p) for p, _ in ALL_PARSERS}
    assert {"", "corpus scan", "features extract", "features list", "evaluate", "train", "models", "predict",
            "serve", "export", "plot distribution", "plot audio", "plot confusion"} <= paths


def test_help_through_the_real_entry_points():
    r = run_module("--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: serkit")
    assert "predict" in r.stdout and r.stderr == ""
    assert SERKIT.is_file(), "the serkit console script is not installed in this environment"
    r = subprocess.run([str(SERKIT), "predict", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage: serkit predict")
    assert "--min-confidence" in r.stdout


@pytest.mark.parametrize("path", [p for p, _ in ALL_PARSERS], ids=lambda p: " ".join(p) or "serkit")
def test_every_option_is_documented_in_help(capsys, path):
    parser = dict(ALL_PARSERS)[path]
    with pytest.raises(SystemExit) as exit_:
        cli.main([*path, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {' '.join(('serkit', *path))}")
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help.strip() and action.help != argparse.SUPPRESS, action
        if isinstance(action, argparse._SubParsersAction):
            assert action.metavar in text
            for choice in action._choices_actions:
                assert choice.help and choice.help.strip(), choice.dest
                assert choice.dest in text and choice.help in text
        elif action.option_strings:
            for opt in action.option_strings:
                assert opt in text, opt
        else:
            assert (action.metavar or action.dest) in text


# --------------------------------------------------------------------------- corpus scan


def test_corpus_scan_ravdess_json(capsys, shared_data):
    rc, out, err = run_main(capsys, ["corpus", "scan", str(shared_data / "ravdess"), "--format", "json"])
    assert rc == 0
    s = json.loads(out)
    assert s["corpus"] == "ravdess"
    assert s["files"] == 1440 and s["speakers"] == 24 and s["skipped"] == 0
    assert s["emotions"] == {"neutral": 96, **{e: 192 for e in
                                               ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")}}
    assert set(s["per_speaker"].values()) == {60}


def test_corpus_scan_savee_json(capsys, shared_data):
    rc, out, _ = run_main(capsys, ["corpus", "scan", str(shared_data / "savee"), "--format", "json"])
    assert rc == 0
    s = json.loads(out)
    assert (s["corpus"], s["files"], s["speakers"], len(s["emotions"])) == ("savee", 480, 4, 7)
    assert s["emotions"]["neutral"] == 120
    assert all(v == 60 for k, v in s["emotions"].items() if k != "neutral")


def test_corpus_scan_csv_output_is_written_atomically(capsys, shared_data, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "savee.csv"
    rc, out, err = run_main(capsys, ["corpus", "scan", str(shared_data / "savee"), "--format", "csv",
                                     "--output", str(target)])
    assert rc == 0 and out == "" and err == ""
    assert [p.name for p in out_dir.iterdir()] == ["savee.csv"]  # no temp file left behind
    with target.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 480
    assert list(rows[0])[: len(COLUMNS)] == list(COLUMNS)
    assert {r["speaker"] for r in rows} == {"savee:DC", "savee:JE", "savee:JK", "savee:KL"}


# --------------------------------------------------------------------------- errors: exit 2, one line


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    return fx.make_speaker_manifest(tmp_path_factory.mktemp("data"), speakers=4, emotions=EMOTIONS, per_class=2)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, data_csv) -> Path:
    """A logreg bundle trained (without evaluation) through the CLI on 24 synthetic clips."""
    base = tmp_path_factory.mktemp("bundle")
    rc = cli.main(["train", "--data", str(data_csv), "--model", "logreg", "--output", str(base / "logreg"),
                   "--no-evaluate", "--quiet", "--cache", str(base / "cache"), "--workers", "1", "--jobs", "1"])
    assert rc == 0
    return base / "logreg"


@pytest.fixture
def clip(tmp_path) -> Path:
    return fx.write_clip(tmp_path / "clip.wav")


BAD = {
    "missing folder": lambda t, d, c: ["corpus", "scan", str(t / "no_such_folder")],
    "unknown corpus": lambda t, d, c: ["corpus", "scan", str(d.parent), "--corpus", "timit"],
    "unknown model": lambda t, d, c: ["evaluate", "--data", str(d), "--model", "logreg,bert"],
    "unknown model (train)": lambda t, d, c: ["train", "--data", str(d), "--model", "bert", "--output", str(t / "b")],
    "unknown feature": lambda t, d, c: ["evaluate", "--data", str(d), "--features", "spectral_stats+mel9"],
    "unknown feature (extract)": lambda t, d, c: ["features", "extract", "--data", str(d), "--features", "mel9"],
    "cnn_mfcc on vectors": lambda t, d, c: ["evaluate", "--data", str(d), "--model", "cnn_mfcc"],
    "corrupt bundle": lambda t, d, c: ["predict", str(c), "--model", str(fx.garbage_bundle(t))],
    "nonexistent bundle": lambda t, d, c: ["predict", str(c), "--model", str(t / "no_bundle")],
}
EXPECT = {  # a word the one-line message must contain
    "missing folder": "no_such_folder", "unknown corpus": "ravdess", "unknown model": "bert",
    "unknown model (train)": "logreg", "unknown feature": "mel9", "unknown feature (extract)": "spectral_stats",
    "cnn_mfcc on vectors": "mfcc_matrix", "corrupt bundle": "config.json", "nonexistent bundle": "no_bundle",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path, data_csv, clip, case):
    rc, out, err = run_main(capsys, BAD[case](tmp_path, data_csv, clip))
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("serkit: error: ")
    assert "Traceback" not in err and "Traceback" not in out
    assert EXPECT[case] in lines[0]


def test_predict_with_no_audio_files_is_an_error(capsys, tmp_path, bundle):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no audio here")
    rc, out, err = run_main(capsys, ["predict", str(tmp_path / "empty"), "--model", str(bundle)])
    assert rc == 2 and out == ""
    assert err.startswith("serkit: error: no audio files found") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_bad_input_through_the_real_entry_point(tmp_path):
    for argv, word in [(["corpus", "scan", str(tmp_path / "nowhere")], "nowhere"),
                       (["predict", str(tmp_path), "--model", str(tmp_path / "no_bundle")], "no_bundle")]:
        r = run_module(*argv)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("serkit: error: ") and len(r.stderr.strip().splitlines()) == 1
        assert word in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- predict


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    fx.write(folder / "a_happy.wav", fx.synth(0.6, partials=(330.0, 660.0, 990.0), seed=1), 16_000)
    fx.write(folder / "b_angry.wav", fx.synth(0.6, partials=(500.0, 1000.0, 1500.0), seed=2), 16_000)
    (folder / "c_text.wav").write_text("not audio at all, only text in a .wav file\n" * 10)
    return folder


def test_predict_table_reports_the_failing_file_and_exits_1(capsys, bundle, mixed_folder):
    rc, out, err = run_main(capsys, ["predict", str(mixed_folder), "--model", str(bundle), "--quiet"])
    assert rc == 1
    lines = out.strip().splitlines()
    assert len(lines) == 3
    labels = json.loads((bundle / "labels.json").read_text())
    for name, line in zip(["a_happy.wav", "b_angry.wav"], lines[:2], strict=True):
        assert name in line and line.split()[1] in labels
    assert "c_text.wav" in lines[2] and "ERROR" in lines[2]
    assert "c_text.wav" in err and "Traceback" not in err


@pytest.mark.slow
def test_predict_json_through_the_entry_point(bundle, mixed_folder):
    r = subprocess.run([str(SERKIT), "predict", str(mixed_folder), "--model", str(bundle), "--format", "json",
                        "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    results = json.loads(r.stdout)
    assert isinstance(results, list) and len(results) == 3
    by_name = {Path(x["path"]).name: x for x in results}
    labels = json.loads((bundle / "labels.json").read_text())
    for name in ("a_happy.wav", "b_angry.wav"):
        x = by_name[name]
        assert {"path", "label", "confidence", "probabilities"} <= set(x) and "error" not in x
        assert x["label"] in labels
        assert sorted(x["probabilities"]) == sorted(labels)
        assert sum(x["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert x["confidence"] == pytest.approx(max(x["probabilities"].values()))
    bad = by_name["c_text.wav"]
    assert bad["error"] and "c_text.wav" in bad["error"] and bad["label"] is None
    assert "c_text.wav" in r.stderr and "Traceback" not in r.stderr


def test_min_confidence_gives_uncertain_labels(capsys, bundle, mixed_folder):
    good = [str(mixed_folder / "a_happy.wav"), str(mixed_folder / "b_angry.wav")]
    rc, out, _ = run_main(capsys, ["predict", *good, "--model", str(bundle), "--format", "json", "--quiet"])
    assert rc == 0
    plain = json.loads(out)
    assert all(x["label"] != UNCERTAIN for x in plain)
    rc, out, _ = run_main(capsys, ["predict", *good, "--model", str(bundle), "--format", "json", "--quiet",
                                   "--min-confidence", "0.99"])
    assert rc == 0
    strict = json.loads(out)
    assert any(x["confidence"] < 0.99 for x in strict)  # a small logreg is never that sure
    for p, s in zip(plain, strict, strict=True):
        assert s["label"] == (UNCERTAIN if s["confidence"] < 0.99 else p["label"])
        assert s["probabilities"] == p["probabilities"]


def test_min_confidence_out_of_range_is_an_error(capsys, bundle, clip):
    rc, _, err = run_main(capsys, ["predict", str(clip), "--model", str(bundle), "--min-confidence", "1.5"])
    assert rc == 2 and err.startswith("serkit: error: ") and "--min-confidence" in err


# --------------------------------------------------------------------------- feature cache


def test_features_extract_second_run_is_all_from_cache(capsys, tmp_path):
    csv_path = fx.make_speaker_manifest(tmp_path / "data", speakers=5, emotions=("happy", "sad"), per_class=2)
    argv = ["features", "extract", "--data", str(csv_path), "--cache", str(tmp_path / "cache"), "--workers", "1",
            "--quiet"]
    rc, out, _ = run_main(capsys, argv)
    assert rc == 0
    assert "20 files" in out and "20 computed, 0 from cache, 0 failed" in out
    rc, out, _ = run_main(capsys, argv)
    assert rc == 0
    assert "20 files" in out and "0 computed, 20 from cache, 0 failed" in out


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["evaluate"], "run the feature extraction on a Dask cluster: "),
        (["train"], "run the feature extraction on a Dask cluster: "),
        (["features", "extract"], "run the feature extraction on a Dask cluster: "),
        (["predict"], "run the feature extraction and prediction, in batches, on a Dask cluster: "),
        (["adapt"], "extract the recordings' features on a Dask cluster: "),
    ],
    ids=["evaluate", "train", "features extract", "predict", "adapt"],
)
def test_the_scheduler_help_says_what_each_command_runs_on_the_cluster(command, says, capsys, monkeypatch):
    """--scheduler is declared once (RunOptions), but each command sends other work there: only evaluate and
    train keep folds or a model here, and only they say so."""
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    lines = capsys.readouterr().out.splitlines()
    [text] = [lines[i + 1].strip() for i, line in enumerate(lines) if line.strip() == "--scheduler ADDRESS|local[:N]"]
    assert text.startswith(says)
    assert ("folds are trained here" in text) == (command == ["evaluate"])
    assert ("model is trained here" in text) == (command == ["train"])
