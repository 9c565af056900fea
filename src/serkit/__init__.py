"""serkit: speech emotion recognition that is honest, fast on a CPU, and just works."""

from __future__ import annotations

from serkit.version import __version__

__all__ = ["Predictor", "__version__", "evaluate", "train"]


def __getattr__(name: str):
    # Lazy: `import serkit` must not pull torch or sklearn.
    if name == "Predictor":
        from serkit.inference import Predictor

        return Predictor
    if name in ("train", "evaluate"):
        from serkit.extras import require

        require("train", f"serkit.{name}")  # MissingExtraError (an ImportError) without the "train" extra
        if name == "train":
            from serkit.training import train

            return train
        from serkit.evaluation import evaluate

        return evaluate
    raise AttributeError(name)
