"""How each kind of model is fitted, saved, loaded and exported: declared once per family.

Pipelines and the bundle ask a model's family what to do instead of testing its name, so a
new kind of model is one new family here, not edits in evaluation, training, bundle and export.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from serkit.errors import BundleError
from serkit.validation import check_array

# Every type a serkit scikit-learn bundle may contain; anything else is refused.
SKOPS_ALLOWED = frozenset(
    {
        "builtins.slice",
        "collections.OrderedDict",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.float64",
        "numpy.int64",
        "numpy.random._mt19937.MT19937",
        "numpy.random.mtrand.RandomState",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.svm._classes.SVC",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.basic.Booster",
        "collections.defaultdict",
        "numpy.str_",  # LGBMClassifier's classes
        "sklearn.preprocessing._label.LabelEncoder",  # inside LGBMClassifier
    }
)
# Plain containers and scalars every skops file is made of.
_SKOPS_BUILTINS = frozenset(
    f"builtins.{t}" for t in ("dict", "list", "tuple", "str", "int", "float", "bool", "NoneType")
)


class ModelFamily:
    """How one kind of model is fitted, saved, loaded and exported: the interface the pipelines and the bundle
    call instead of testing a model's name. One instance per family is shared by every model of it
    (`ModelSpec.family`); serkit has `TORCH` and `SKLEARN`.

    A new kind of model subclasses this, sets the three class attributes and overrides `fit`, `save` and
    `load`, plus `saved_params` when the estimator needs more than its weights to be rebuilt, and
    `onnx_module` and `input_scale` when it can be exported to ONNX.

    Attributes:
        name: The family's name, as `serkit models` shows it (``"torch"``, ``"sklearn"``).
        weights_file: The file in a bundle's folder that holds a fitted model's weights.
        trains_by_epochs: Whether its models train by epochs (they take `--epochs` / `ExperimentConfig.epochs`).
    """

    name: ClassVar[str]
    weights_file: ClassVar[str]
    trains_by_epochs: ClassVar[bool] = False

    def fit(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        *,
        groups: np.ndarray | None = None,
        origin: np.ndarray | None = None,
    ) -> Any:
        """Fit an unfitted estimator (as `ModelSpec.build` makes it) on training rows.

        Args:
            estimator: The estimator to fit, in place.
            X: The features, one row per file (or augmented copy): 2-D for vectors, 3-D for matrices and states.
            y: The labels, one per row.
            groups: The speaker of each row, for a family that holds out validation speakers (None: unknown).
            origin: For each row, the index of the original file it was augmented from, so that copies of one
                file never straddle a training/validation split (None: no augmentation).

        Returns:
            The fitted estimator.

        Raises:
            NotImplementedError: the family does not override it.
        """
        raise NotImplementedError

    def saved_params(self, estimator: Any) -> dict[str, Any]:
        """What `load` needs besides the weights to rebuild the estimator; saved in the bundle's config.

        Args:
            estimator: A fitted estimator of this family.

        Returns:
            JSON-serialisable parameters, given back to `load` as `params` (empty by default).
        """
        return {}

    def save(self, estimator: Any, folder: Path) -> None:
        """Write a fitted estimator's weights to `folder / weights_file`.

        Args:
            estimator: A fitted estimator of this family.
            folder: The bundle's folder (being written: the bundle is renamed into place once complete).

        Raises:
            NotImplementedError: the family does not override it.
        """
        raise NotImplementedError

    def load(self, folder: Path, *, params: dict[str, Any], labels: list[str], input_shape: tuple[int, ...]) -> Any:
        """Rebuild a fitted estimator from a bundle's folder, checking what it reads.

        Args:
            folder: The bundle's folder, holding `weights_file`.
            params: What `saved_params` returned when the bundle was written.
            labels: The bundle's classes, in the order of the model's outputs.
            input_shape: The shape of one input row (features), as the bundle's config records it.

        Returns:
            The fitted estimator, ready to predict.

        Raises:
            BundleError: in an implementation, when the weights are missing, damaged, not finite, or disagree
                with `labels` or `input_shape` (one line naming the file and the problem).
            NotImplementedError: the family does not override it.
        """
        raise NotImplementedError

    def onnx_module(self, estimator: Any, *, where: str):
        """A torch module computing the logits, for ONNX export (`serkit export`).

        Args:
            estimator: A fitted estimator of this family.
            where: What to name in an error (the bundle's path).

        Returns:
            A `torch.nn.Module` mapping a batch of inputs to logits.

        Raises:
            BundleError: the model cannot be exported (the default).
        """
        raise BundleError(f"{where}: this model cannot be exported to ONNX")

    def input_scale(self, estimator: Any) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of the inputs the model was trained on, to check an export on realistic inputs.

        Args:
            estimator: A fitted estimator of this family.

        Returns:
            The per-feature mean and standard deviation.

        Raises:
            NotImplementedError: the family cannot be exported (it does not override it).
        """
        raise NotImplementedError


class TorchFamily(ModelFamily):
    name = "torch"
    weights_file = "model.safetensors"
    trains_by_epochs = True

    def fit(self, estimator, X, y, *, groups=None, origin=None):
        return estimator.fit(X, y, groups=groups, origin=origin)

    def saved_params(self, estimator):
        return {k: v for k, v in estimator.get_params().items() if k != "verbose"}

    def save(self, estimator, folder):
        from safetensors.torch import save_file

        save_file(estimator.state(), str(folder / self.weights_file))

    def load(self, folder, *, params, labels, input_shape):
        from safetensors.torch import load_file

        from serkit.models.neural import TorchClassifier

        f = folder / self.weights_file
        if not f.is_file():
            raise BundleError(f"{folder}: {self.weights_file} missing")
        try:
            state = load_file(str(f))
        except Exception as exc:  # safetensors raises its own errors for truncated files
            raise BundleError(f"{f}: corrupt weights ({str(exc).splitlines()[0]})") from None
        for name, tensor in state.items():  # NaN or infinite weights would predict NaN for every input
            check_array(tensor.numpy(), where=str(f), name=name, kind="fiub")
        try:
            est = TorchClassifier.from_state(params, labels, tuple(input_shape), state)
        except Exception as exc:  # load_state_dict: its second line names the array (size mismatch, missing key)
            lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
            detail = next((x for x in lines[1:] if "for " in x or "key" in x), lines[0] if lines else "")
            raise BundleError(f"{f}: incompatible weights ({detail.rstrip('.')})") from None
        expected = est.model_.state_dict()
        for name, tensor in state.items():  # load_state_dict casts silently: an integer weight is a damaged file
            if name in expected and expected[name].is_floating_point() != tensor.is_floating_point():
                raise BundleError(f"{f}: array {name!r} has dtype {tensor.dtype}; expected {expected[name].dtype}")
        return est

    def onnx_module(self, estimator, *, where):
        return estimator.model_

    def input_scale(self, estimator):
        return estimator.model_.norm.mean.numpy(), estimator.model_.norm.std.numpy()


class SklearnFamily(ModelFamily):
    name = "sklearn"
    weights_file = "model.skops"

    def fit(self, estimator, X, y, *, groups=None, origin=None):
        return estimator.fit(X, y)

    def save(self, estimator, folder):
        import skops.io as sio

        sio.dump(estimator, folder / self.weights_file)

    def load(self, folder, *, params, labels, input_shape):
        est = _load_skops(folder / self.weights_file)
        classes = [str(c) for c in est.classes_]
        if classes != list(labels):
            raise BundleError(f"{folder}: model classes {classes} disagree with labels.json {list(labels)}")
        check_fitted_arrays(est, where=str(folder / self.weights_file), n_features=math.prod(input_shape))
        return est

    def onnx_module(self, estimator, *, where):
        import torch
        from torch import nn

        steps = dict(estimator.steps) if hasattr(estimator, "steps") else {}
        scaler, clf = steps.get("standardscaler"), steps.get("logisticregression")
        if scaler is None or clf is None:
            raise BundleError(f"{where}: ONNX export supports torch models and logreg")
        coef = np.asarray(clf.coef_, dtype=np.float32)
        bias = np.asarray(clf.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # binary: softmax([0, z]) == [1 - sigmoid(z), sigmoid(z)]
            coef = np.concatenate([np.zeros_like(coef), coef])
            bias = np.concatenate([np.zeros_like(bias), bias])
        # Fold the scaler into the linear layer: W (x - m) / s + b.
        w = coef / np.asarray(scaler.scale_, dtype=np.float32)[None, :]
        b = bias - w @ np.asarray(scaler.mean_, dtype=np.float32)
        linear = nn.Linear(w.shape[1], w.shape[0])
        linear.weight.data = torch.from_numpy(np.ascontiguousarray(w))
        linear.bias.data = torch.from_numpy(b.astype(np.float32))
        return linear

    def input_scale(self, estimator):
        scaler = dict(estimator.steps)["standardscaler"]
        return scaler.mean_, scaler.scale_


# Fitted arrays of the scikit-learn steps serkit saves, and the axis that must equal the number of features
# (None: any shape). Each is checked for a numeric dtype, its shape and finite values on load.
FITTED_ARRAYS: dict[str, int | None] = {
    "coef_": -1,
    "intercept_": None,
    "mean_": 0,
    "scale_": 0,
    "var_": 0,
    "n_samples_seen_": None,
    "feature_importances_": 0,
}


def check_fitted_arrays(estimator: Any, *, where: str, n_features: int) -> None:
    """BundleError, in one line naming the file, the array and the problem, when a fitted array of a loaded
    scikit-learn model (a pipeline's steps included) has a non-numeric dtype, a wrong shape or a NaN."""
    steps = list(estimator.steps) if hasattr(estimator, "steps") else [(type(estimator).__name__.lower(), estimator)]
    for step_name, step in steps:
        for attr, axis in FITTED_ARRAYS.items():
            value = getattr(step, attr, None) if attr in vars(step) else None
            if value is None:
                continue
            arr = check_array(value, where=where, name=f"{step_name}.{attr}", kind="fiu")
            if axis is not None and (arr.ndim == 0 or arr.shape[axis] != n_features):
                raise BundleError(
                    f"{where}: array '{step_name}.{attr}' has shape {tuple(arr.shape)}; expected "
                    f"{n_features} features along axis {axis}"
                )


def _load_skops(f: Path):
    import skops.io as sio

    if not f.is_file():
        raise BundleError(f"{f.parent}: model.skops missing")
    try:
        untrusted = set(sio.get_untrusted_types(file=f))
        present = _skops_types(f)
    except Exception as exc:
        raise BundleError(f"{f}: corrupt model file ({str(exc).splitlines()[0]})") from None
    # skops trusts every scikit-learn estimator by default, so its untrusted list alone
    # would let any of them through: check every type the file names against the allow-list.
    refused = sorted((untrusted | present) - SKOPS_ALLOWED - _SKOPS_BUILTINS)
    if refused:
        raise BundleError(f"{f}: contains types outside serkit's allow-list: {', '.join(refused)}; refusing to load it")
    try:
        return sio.load(f, trusted=sorted(untrusted))
    except Exception as exc:
        raise BundleError(f"{f}: corrupt model file ({str(exc).splitlines()[0]})") from None


def _skops_types(f: Path) -> set[str]:
    """Every `module.class` named anywhere in a skops file's schema."""
    import zipfile

    with zipfile.ZipFile(f) as z:
        schema = json.loads(z.read("schema.json"))
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


TORCH = TorchFamily()
SKLEARN = SklearnFamily()
FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (TORCH, SKLEARN)}
