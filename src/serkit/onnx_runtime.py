"""Running exported ONNX models: the torch-free prediction path.

Kept apart from `serkit.export` (which needs torch to write the files) so that feature
extractors and the Predictor can run ONNX files without importing the exporter, the
bundle or torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from serkit.errors import BundleError

CLASSIFIER_FILE = "model.onnx"


def onnx_session(model: str | Path | bytes):
    """An onnxruntime session, single-threaded like the native path; a clear error if unloadable."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    src = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        where = "<bytes>" if isinstance(model, bytes) else str(model)
        raise BundleError(f"{where}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None


class OnnxClassifier:
    """predict_proba through onnxruntime, single-threaded like the native path."""

    def __init__(self, model: str | Path | bytes) -> None:
        self.session = onnx_session(model)
        self.input = self.session.get_inputs()[0].name

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input: np.asarray(X, dtype=np.float32)})[0], dtype=np.float64)
