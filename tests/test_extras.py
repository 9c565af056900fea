"""The light install and its extras: with an extra's packages hidden from import, what needs it is one line and
exit code 2, everything else still works; pyproject.toml and serkit.extras name the same packages.

Each hidden run is a subprocess whose `sitecustomize` puts a meta-path finder in front of every import, in the
command's worker processes too, that raises ModuleNotFoundError for the hidden modules, as when they are not
installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import fixtures as fx
from serkit.errors import MissingExtraError, SerkitError
from serkit.extras import EXTRAS, extra_of_module, missing_extra

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
HEAVY = ("torch", "sklearn", "pandas", "librosa", "scipy", "matplotlib")

HIDER = """
import importlib.abc, os, sys

HIDDEN = set(filter(None, os.environ.get("SERKIT_TEST_HIDE", "").split(",")))


class Hidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Hidden())
"""


def line(extra: str, what: str) -> str:
    return f'serkit: error: {what} needs the "{extra}" extra: pip install "serkit[{extra}]"'


@pytest.fixture(scope="module")
def hide(tmp_path_factory):
    """run(hidden_modules, *serkit_args, code=None) -> CompletedProcess, in a child with those modules hidden."""
    site = tmp_path_factory.mktemp("hide")
    (site / "sitecustomize.py").write_text(HIDER)

    def run(hidden, *args: str, code: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "SERKIT_TEST_HIDE": ",".join(hidden),
            "PYTHONPATH": os.pathsep.join([str(site), str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        }
        cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "serkit.cli", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)

    return run


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return fx.make_savee_nested(tmp_path_factory.mktemp("savee"))


def modules(*extras: str) -> list[str]:
    return [m for e in extras for m in EXTRAS[e].values()]


def one_line_error(run: subprocess.CompletedProcess, expected: str) -> None:
    assert run.returncode == 2, run.stderr[-3000:]
    assert run.stderr.strip() == expected, run.stderr[-3000:]
    assert "Traceback" not in run.stderr


def works(run: subprocess.CompletedProcess) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "needs the" not in run.stderr


# -- the map and pyproject.toml -----------------------------------------------------------------------------
def _names(requirements: list[str]) -> set[str]:
    return {re.match(r"[A-Za-z0-9._-]+", r).group(0).lower() for r in requirements}


def test_pyproject_extras_are_the_map():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    for extra, dists in EXTRAS.items():
        assert _names(optional[extra]) == set(dists), f"[{extra}] in pyproject.toml and serkit/extras.py differ"
    assert optional["all"] == [f"serkit[{','.join(EXTRAS)}]"]
    assert set(optional) == set(EXTRAS) | {"all", "dev"}
    core = _names(project["dependencies"])
    assert not core & {d for dists in EXTRAS.values() for d in dists}, "a package is both core and an extra"
    assert not core & set(HEAVY)
    torch = [r for e in optional.values() for r in e if r.startswith("torch")]
    assert torch and all(r == "torch==2.13.0" for r in torch), "torch stays pinned exactly"


def test_version_is_in_one_place():
    from serkit.version import __version__

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert __version__ == "0.3.0"


def test_missing_extra_error_is_an_import_error_and_a_serkit_error():
    err = MissingExtraError("train", "serkit train")
    assert isinstance(err, ImportError) and isinstance(err, SerkitError)
    assert str(err) == 'serkit train needs the "train" extra: pip install "serkit[train]"'
    assert extra_of_module("torch.nn") == "train" and extra_of_module("numpy") is None
    from_worker = ModuleNotFoundError("No module named 'distributed.client'")  # `name` lost on the way back
    assert missing_extra(from_worker, "x").extra == "dask"
    assert missing_extra(ModuleNotFoundError("No module named 'nothing_of_ours'"), "x") is None


# -- with each extra hidden ----------------------------------------------------------------------------------
def test_light_core_without_any_extra(hide, corpus, tmp_path):
    """predict, adapt (worker processes too), corpus scan and the Python API with every extra hidden."""
    hidden = modules(*EXTRAS)
    run = hide(hidden, "predict", str(EXAMPLES), "--quiet", "--format", "jsonl")
    works(run)
    assert run.stdout.count("\n") == len(list(EXAMPLES.glob("*.flac")))
    works(hide(hidden, "corpus", "scan", str(corpus), "--format", "csv"))
    works(hide(hidden, "adapt", str(corpus), str(EXAMPLES), "--output", str(tmp_path / "adapted"), "--workers", "2"))
    works(hide(hidden, "predict", str(EXAMPLES), "--quiet", "--model", str(tmp_path / "adapted")))
    code = f"""
import sys
import serkit
from serkit import Predictor
p = Predictor.load()
print(p.predict_file({str(next(EXAMPLES.glob("*.flac")))!r}).label)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
assert not heavy, heavy
try:
    from serkit import train
except ImportError as exc:
    assert type(exc).__name__ == "MissingExtraError", type(exc)
    print(exc)
"""
    run = hide(hidden, code=code)
    works(run)
    assert run.stdout.splitlines()[-1] == 'serkit.train needs the "train" extra: pip install "serkit[train]"'


def test_without_train(hide, corpus, tmp_path):
    hidden = modules("train")
    for words, args in [
        ("train", ["--data", str(corpus), "--output", str(tmp_path / "b")]),
        ("evaluate", ["--data", str(corpus)]),
        ("features extract", ["--data", str(corpus)]),
        ("export", [str(REPO / "src" / "serkit" / "default_model")]),
        ("plot distribution", [str(corpus), "--output", str(tmp_path / "d.png")]),
    ]:
        one_line_error(hide(hidden, *words.split(), *args), line("train", f"serkit {words}"))
    one_line_error(
        hide(hidden, "predict", str(EXAMPLES), "--backend", "native"), line("train", "serkit predict --backend native")
    )
    works(hide(hidden, "predict", str(EXAMPLES), "--quiet"))
    works(hide(hidden, "features", "list"))
    native_only = tmp_path / "native"  # a bundle without its ONNX files
    shutil.copytree(
        REPO / "src" / "serkit" / "default_model", native_only, ignore=shutil.ignore_patterns("*.onnx", "onnx.json")
    )
    run = hide(hidden, "predict", str(EXAMPLES), "--model", str(native_only))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.stderr.startswith(line("train", f"{native_only}: the native logreg model") + "; or run `serkit export")
    works(hide(hidden, "models"))


def test_without_serve(hide):
    hidden = modules("serve")
    one_line_error(hide(hidden, "serve", "--port", "1"), line("serve", "serkit serve"))
    run = hide(hidden, code="import serkit.server as s\ns.create_app")
    assert run.returncode == 1 and "MissingExtraError" in run.stderr and 'pip install "serkit[serve]"' in run.stderr
    works(hide(hidden, "predict", str(EXAMPLES), "--quiet"))


def test_without_live(hide):
    hidden = modules("live")
    for args in (["listen"], ["listen", "--list-devices"]):
        run = hide(hidden, *args)
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert run.stderr.startswith(line("live", "the microphone (serkit listen)") + "; "), run.stderr
    works(hide(hidden, "predict", str(EXAMPLES), "--quiet"))


def test_without_dask(hide, corpus, tmp_path):
    hidden = modules("dask")
    one_line_error(
        hide(hidden, "predict", str(EXAMPLES), "--scheduler", "local:1"), line("dask", "serkit predict --scheduler")
    )
    adapt = ["adapt", str(corpus), str(EXAMPLES), "--output", str(tmp_path / "a"), "--scheduler", "local:1"]
    one_line_error(hide(hidden, *adapt), line("dask", "serkit adapt --scheduler"))
    works(hide(hidden, "predict", str(EXAMPLES), "--quiet"))


def test_without_opensmile(hide, corpus):
    hidden = modules("opensmile")
    for workers in ("1", "2"):  # in this process, and in worker processes
        run = hide(hidden, "features", "extract", "--data", str(corpus), "--features", "egemaps", "--workers", workers)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
        assert run.stderr.strip().splitlines()[-1] == line("opensmile", "the openSMILE feature set eGeMAPSv02")
    works(hide(hidden, "predict", str(EXAMPLES), "--quiet"))


def test_serve_needs_no_other_extra(hide):
    """The web app predicts through the default model's ONNX files: the core and "serve" are enough."""
    clip = str(EXAMPLES / "03-01-05-02-01-01-05.flac")
    code = f"""
import sys
from fastapi.testclient import TestClient
from serkit.server import create_app

client = TestClient(create_app())
assert client.get("/api/health").status_code == 200
with open({clip!r}, "rb") as fh:
    r = client.post("/api/predict", files={{"file": ("a.flac", fh, "audio/flac")}},
                    headers={{"origin": "http://testserver"}})
assert r.status_code == 200, r.text
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
assert not heavy, heavy
print(r.json()["label"])
"""
    run = hide(modules("train", "live", "dask", "opensmile"), code=code)
    works(run)
    assert run.stdout.strip() in {"angry", "surprised", "happy", "fearful", "disgust", "sad", "calm", "neutral"}


def test_python_api_without_train(hide, corpus):
    """The Python API says which extra it needs as a MissingExtraError (an ImportError), in worker processes too;
    the bundled model still predicts through its ONNX files."""
    clip = str(next(EXAMPLES.glob("*.flac")))
    code = f"""
from serkit import Predictor
from serkit.corpora import load_dataset, scan
from serkit.errors import MissingExtraError
from serkit.features import extract_features, get_extractor

def says(call):
    try:
        call()
    except MissingExtraError as exc:
        assert isinstance(exc, ImportError)
        print(exc)
    else:
        raise AssertionError("no MissingExtraError")

for name in ("spectral_stats", "logmel", "mfcc_matrix"):
    says(lambda: get_extractor(name).extract(__import__("numpy").zeros(16000, "float32")))
    for workers in (1, 2):
        says(lambda: extract_features([{clip!r}] * 8, [get_extractor(name)], workers=workers, progress=False))
says(lambda: extract_features([{clip!r}] * 8, ["whisper_encoder"], workers=2, progress=False))
says(lambda: scan({str(corpus)!r}).table)
says(lambda: load_dataset([{str(corpus)!r}]))
assert len(scan({str(corpus)!r}).rows) > 0
print(Predictor.load().predict_file({clip!r}).label)
"""
    run = hide(modules("train"), code=code)
    works(run)
    out = run.stdout.splitlines()
    need = ' needs the "train" extra: pip install "serkit[train]"'
    for name in ("spectral_stats", "logmel", "mfcc_matrix"):
        assert out.count(f"the {name} feature set{need}") == 3, out
    assert out.count(f"the whisper_encoder feature set{need}") == 1, out
    assert f"Corpus.table{need}; Corpus.rows, summary() and to_csv() need no pandas" in out, out
    assert f"serkit.corpora.load_dataset{need}" in out, out
    assert out[-1] in {"angry", "surprised", "happy", "fearful", "disgust", "sad", "calm", "neutral"}, out
