"""ONNX export of a bundle's classifier, checked against the native model.

Feature extraction stays native; the classifier (with its own input scaling) becomes
one self-contained model.onnx that onnxruntime runs without torch or scikit-learn.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from serkit.errors import BundleError
from serkit.onnx_runtime import ENCODER_FILE, OnnxClassifier, onnx_session

TOLERANCE = 1e-4


def _torch_module(bundle):
    import torch
    from torch import nn

    est = bundle.estimator
    if bundle.config.model_family == "torch":
        core = est.model_
    else:
        steps = dict(est.steps) if hasattr(est, "steps") else {}
        scaler, clf = steps.get("standardscaler"), steps.get("logisticregression")
        if scaler is None or clf is None:
            raise BundleError(
                f"{bundle.path}: ONNX export supports torch models and logreg; this bundle holds {bundle.config.model}"
            )

        class Linear(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                coef = np.asarray(clf.coef_, dtype=np.float32)
                bias = np.asarray(clf.intercept_, dtype=np.float32)
                if coef.shape[0] == 1:  # binary: softmax([0, z]) == [1 - sigmoid(z), sigmoid(z)]
                    coef = np.concatenate([np.zeros_like(coef), coef])
                    bias = np.concatenate([np.zeros_like(bias), bias])
                scale = np.asarray(scaler.scale_, dtype=np.float32)
                mean = np.asarray(scaler.mean_, dtype=np.float32)
                # Fold the scaler into the linear layer: W (x - m) / s + b.
                w = coef / scale[None, :]
                b = bias - w @ mean
                self.linear = nn.Linear(w.shape[1], w.shape[0])
                self.linear.weight.data = torch.from_numpy(w)
                self.linear.bias.data = torch.from_numpy(b.astype(np.float32))

            def forward(self, x):
                return self.linear(x)

        core = Linear()

    class WithSoftmax(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=1)

    return WithSoftmax(core).eval()


def export_onnx(bundle_path: str | Path, *, output: str | Path | None = None) -> tuple[Path, float]:
    import warnings

    import torch

    from serkit.bundle import load_bundle
    from serkit.io import atomic_write_bytes

    bundle = load_bundle(bundle_path)
    module = _torch_module(bundle)
    shape = tuple(bundle.config.input_shape)
    out = Path(output) if output else bundle.path / "model.onnx"
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (torch.zeros((2, *shape)),), buf, dynamo=False, input_names=["features"],
            output_names=["probabilities"], dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=17,
        )
    data = buf.getvalue()
    # Check before writing: a model that disagrees with the native one is never saved.
    rng = np.random.default_rng(0)
    X = _check_inputs(bundle, shape, rng)
    native = np.asarray(bundle.estimator.predict_proba(X), dtype=np.float64)
    onnx_p = OnnxClassifier(data).predict_proba(X)
    diff = float(np.max(np.abs(native - onnx_p)))
    if diff > TOLERANCE:
        raise BundleError(f"{bundle.path}: ONNX export disagrees with the native model (max diff {diff:.2e})")
    atomic_write_bytes(out, data)
    for f in bundle.config.features:
        if f["name"] == "whisper_encoder":
            # The feature encoder too, so that ONNX prediction needs no torch at all.
            export_whisper_encoder(f["config"].get("model_dir") or None, out.parent / ENCODER_FILE)
    return out, diff


def _check_inputs(bundle, shape, rng) -> np.ndarray:
    """Inputs on the scale the model was trained on (its own normalisation statistics)."""
    est = bundle.estimator
    if bundle.config.model_family == "torch":
        mean = est.model_.norm.mean.numpy()
        std = est.model_.norm.std.numpy()
        return (rng.standard_normal((16, *shape)) * std + mean).astype(np.float32)
    scaler = dict(est.steps)["standardscaler"]
    return (rng.standard_normal((16, *shape)) * scaler.scale_ + scaler.mean_).astype(np.float32)




def export_whisper_encoder(model_dir: str | None, out: Path) -> float:
    """The Whisper encoder, all states stacked (n_states, frames, d), with a dynamic time axis.

    Checked against the torch encoder on two lengths before it is written; returns the max diff.
    """
    import warnings

    import torch

    from serkit.features.whisper import load_encoder

    encoder = load_encoder(model_dir or None)

    class Stacked(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, mel):
            return torch.stack([s[0] for s in self.encoder(mel)])

    module = Stacked().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 80, 300),), buf, dynamo=False, input_names=["mel"],
                          output_names=["states"], dynamic_axes={"mel": {2: "frames"}, "states": {1: "steps"}},
                          opset_version=17)
    data = buf.getvalue()
    session = onnx_session(data)
    rng = np.random.default_rng(0)
    diff = 0.0
    for frames in (200, 1000):
        mel = (rng.standard_normal((1, 80, frames)) * 0.5).astype(np.float32)
        with torch.inference_mode():
            ref = module(torch.from_numpy(mel)).numpy()
        got = session.run(None, {"mel": mel})[0]
        diff = max(diff, float(np.max(np.abs(ref - got))))
    if diff > 1e-3:
        raise BundleError(f"ONNX Whisper encoder disagrees with the torch one (max diff {diff:.2e})")
    from serkit.io import atomic_write_bytes

    atomic_write_bytes(out, data)
    return diff
