"""The runtimes a model bundle can predict with: one closed vocabulary, importable without numpy.

`Predictor.load(backend=...)` takes it, and the command line's `--backend` choices are its values, so
`serkit --help` builds its parser without loading the prediction stack.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Backend"]


class Backend(str, Enum):
    """The runtime a bundle predicts with (`Predictor.load(backend=...)`, `--backend`).

    Attributes:
        AUTO: ONNX when the bundle has an export (torch-free, fast start), else native.
        NATIVE: The bundle's native weights (scikit-learn or torch; needs the ``train`` extra).
        ONNX: The bundle's exported ONNX files, through onnxruntime.
    """

    AUTO = "auto"  # ONNX when the bundle has an export (torch-free, fast start), else native
    NATIVE = "native"
    ONNX = "onnx"
