"""The ONNX prediction path needs no torch: classifier and Whisper encoder both run in onnxruntime."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from serkit.inference import Predictor, default_model_path

NO_TORCH = r'''
import sys, json, importlib.abc
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, NoTorch())
from serkit.inference import Predictor
p = Predictor.load(sys.argv[1], backend="onnx")
out = [p.predict_file(f).probabilities for f in sys.argv[2:]]
assert "torch" not in sys.modules, "torch was imported"
print(json.dumps(out))
'''


@pytest.mark.slow
def test_default_model_predicts_through_onnx_without_torch(tmp_path, shared_data):
    bundle = tmp_path / "model"
    shutil.copytree(default_model_path(), bundle)
    from serkit.cli import main

    assert main(["export", str(bundle), "--format", "onnx"]) == 0
    assert (bundle / "model.onnx").is_file() and (bundle / "whisper_encoder.onnx").is_file()
    clips = [str(shared_data / "ravdess" / "Actor_02" / "03-01-04-02-01-01-02.flac"),
             str(shared_data / "savee" / "JK_f03.flac")]
    run = subprocess.run([sys.executable, "-c", NO_TORCH, str(bundle), *clips], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    onnx = json.loads(run.stdout.strip().splitlines()[-1])
    native = Predictor.load(bundle, backend="native")  # "auto" would pick the ONNX files just exported
    for clip, probs in zip(clips, onnx, strict=True):
        ref = native.predict_file(clip).probabilities
        assert set(probs) == set(ref)
        assert max(abs(probs[k] - ref[k]) for k in ref) < 1e-4
