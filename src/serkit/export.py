"""ONNX export of a bundle: its classifier and the feature extractors that can export, checked and recorded.

The classifier (with its own input scaling) becomes one self-contained model.onnx; an extractor
with a neural front end (the Whisper encoder) writes its own file. Each is checked against the
native model before it is written, and onnx.json records what they were exported from, so a
Predictor refuses files that do not belong to the bundle (see `bundle.check_onnx`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from serkit.errors import BundleError
from serkit.onnx_runtime import CLASSIFIER_FILE, OnnxClassifier

TOLERANCE = 1e-4


def export_onnx(bundle_path: str | Path) -> tuple[Path, float]:
    """Write BUNDLE/model.onnx (+ extractor files + onnx.json); returns the classifier file and the max
    |p_onnx - p_native| on a check batch."""
    import warnings

    import torch

    from serkit.bundle import ONNX_MANIFEST, load_bundle, onnx_manifest
    from serkit.io import atomic_write_bytes, atomic_write_text

    bundle = load_bundle(bundle_path)
    cfg = bundle.config
    family = cfg.spec.family
    core = family.onnx_module(bundle.estimator, where=str(bundle.path))

    class WithSoftmax(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = core

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=1)

    module = WithSoftmax().eval()
    shape = tuple(cfg.input_shape)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # torch annotates f as a path only; its TorchScript exporter (dynamo=False) writes to a file object too.
        torch.onnx.export(
            module,
            (torch.zeros((2, *shape)),),
            buf,  # type: ignore[arg-type]
            dynamo=False,
            input_names=["features"],
            output_names=["probabilities"],
            dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=17,
        )
    data = buf.getvalue()
    # Check before writing: a model that disagrees with the native one is never saved.
    mean, std = family.input_scale(bundle.estimator)
    X = (np.random.default_rng(0).standard_normal((16, *shape)) * std + mean).astype(np.float32)
    native = np.asarray(bundle.estimator.predict_proba(X), dtype=np.float64)
    diff = float(np.max(np.abs(native - OnnxClassifier(data).predict_proba(X))))
    if diff > TOLERANCE:
        raise BundleError(f"{bundle.path}: ONNX export disagrees with the native model (max diff {diff:.2e})")
    (bundle.path / ONNX_MANIFEST).unlink(missing_ok=True)  # stale while the files change
    atomic_write_bytes(bundle.path / CLASSIFIER_FILE, data)
    files = [CLASSIFIER_FILE]
    for ex in cfg.experiment.extractors():
        files += ex.export_onnx(bundle.path)  # e.g. the Whisper encoder: prediction then needs no torch
    atomic_write_text(bundle.path / ONNX_MANIFEST, json.dumps(onnx_manifest(bundle.path, cfg, files), indent=2))
    return bundle.path / CLASSIFIER_FILE, diff
