"""The default prediction path stays light: no torch, scikit-learn, librosa, scipy or pandas import,
so `serkit predict one.wav` answers in well under a second from a cold process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

HEAVY = ("torch", "sklearn", "librosa", "scipy", "pandas", "numba")


def test_mel_filterbank_equals_librosa():
    import librosa

    from serkit.features.spectral import mel_filterbank

    for sr, n_fft, n_mels, fmin, fmax in [(16000, 400, 80, 0.0, None), (16000, 512, 128, 0.0, None),
                                           (22050, 2048, 64, 50.0, 8000.0)]:
        ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        assert ours.shape == ref.shape
        assert np.max(np.abs(ours - ref)) < 1e-7


def test_default_prediction_imports_nothing_heavy():
    clip = REPO / "examples" / "03-01-05-02-01-01-05.flac"
    code = (
        "import sys, json\n"
        "from serkit.cli import main\n"
        f"code = main(['predict', {str(clip)!r}, '--format', 'json'])\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    report = json.loads(out.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, out.stderr
    assert report["heavy"] == [], f"the default prediction path imported {report['heavy']}"
    assert json.loads(out.stdout)[0]["label"] in json.loads((REPO / "src/serkit/default_model/labels.json").read_text())


def test_the_check_notices_a_heavy_import():
    """The test above can fail: a native (scikit-learn) prediction does import scikit-learn."""
    clip = REPO / "examples" / "03-01-05-02-01-01-05.flac"
    code = ("import sys\nfrom serkit.cli import main\n"
            f"main(['predict', {str(clip)!r}, '--backend', 'native', '--quiet'])\n"
            "print('sklearn' in sys.modules, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stderr.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("backend", ["onnx", "native"])
def test_onnx_and_native_default_model_agree(backend):
    from serkit.inference import Predictor

    clip = str(REPO / "examples" / "03-01-01-01-01-01-01.flac")
    ref = Predictor.load(backend="native").predict_file(clip).probabilities
    got = Predictor.load(backend=backend).predict_file(clip).probabilities
    assert max(abs(got[k] - ref[k]) for k in ref) < 1e-4


def test_the_command_line_parser_loads_no_numpy():
    """`serkit --help` and argument errors need only the option declarations: not numpy, nor what imports it
    (the normalisation schemes, the features, the corpora)."""
    code = ("import sys\nfrom serkit.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in ('numpy', 'serkit.normalization', 'serkit.features', 'serkit.corpora') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
