"""The model bundle: one folder, one layout for every model, so training and serving agree.

    config.json        TrainConfig + feature configs + serkit/feature versions
    labels.json        class names in the model's output order
    model.safetensors  torch weights (no pickle)        | model.skops  scikit-learn model,
                                                        | loaded with a fixed allow-list
    metrics.json       the evaluation behind it
    card.md            data, protocol, scores, classes, licence
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serkit.errors import BundleError
from serkit.io import write_folder_atomically

# Every type a serkit scikit-learn bundle may contain; anything else is refused.
SKOPS_ALLOWED = frozenset({
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
})
# Plain containers and scalars every skops file is made of.
_SKOPS_BUILTINS = frozenset(f"builtins.{t}" for t in ("dict", "list", "tuple", "str", "int", "float", "bool", "NoneType"))

LICENCES = {
    "ravdess": "RAVDESS: CC BY-NC-SA 4.0 (Livingstone & Russo 2018) — non-commercial, share-alike",
    "savee": "SAVEE: free for research use (Haq & Jackson, University of Surrey)",
    "crema_d": "CREMA-D: Open Database License (ODbL) / Database Contents License",
    "tess": "TESS: CC BY-NC-ND 4.0 (University of Toronto)",
    "emodb": "EMO-DB: free for research use (TU Berlin)",
    "emovo": "EMOVO: research use (Costantini et al. 2014)",
    "urdu": "URDU: research use (Latif et al. 2018)",
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What was trained and how; saved as config.json next to the weights."""

    model: str
    features: tuple[dict[str, Any], ...]  # [{"name", "config"}], in model input order
    labels: tuple[str, ...]  # model output order
    model_family: str
    model_input: str
    model_params: dict[str, Any]
    input_shape: tuple[int, ...] = ()
    data: tuple[str, ...] = ()
    corpora: tuple[str, ...] = ()
    n_files: int = 0
    label_policy: str = "union"
    augment: str = ""
    augment_copies: int = 0
    seed: int = 0
    speaker_norm: bool = False  # features z-scored per speaker: predict needs several files of one speaker
    serkit_version: str = ""
    feature_version: str = ""


def is_bundle(folder: Path) -> bool:
    """A folder serkit wrote: its config.json parses as a TrainConfig (not any app's config.json)."""
    try:
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(raw, dict) and {"model_family", "feature_version", "labels"} <= set(raw)


def check_output(out: Path) -> None:
    """Refuse, before any work, to write a bundle over something that is not a bundle."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BundleError(f"{out}: exists and is not a folder; choose another --output")
    if out.exists() and any(out.iterdir()) and not is_bundle(out):
        raise BundleError(f"{out}: folder exists and is not a serkit bundle; refusing to overwrite it")


def save_bundle(
    out: Path,
    config: TrainConfig,
    estimator: Any,
    metrics: dict | None,
    card: str,
    *,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write into a temp folder, then swap it in: a crash never leaves a half-written bundle."""
    out = Path(out)
    check_output(out)

    def fill(tmp: Path) -> None:
        (tmp / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
        (tmp / "labels.json").write_text(json.dumps(list(config.labels), indent=2))
        if config.model_family == "torch":
            from safetensors.torch import save_file

            save_file(estimator.state(), str(tmp / "model.safetensors"))
        else:
            import skops.io as sio

            sio.dump(estimator, tmp / "model.skops")
        (tmp / "metrics.json").write_text(json.dumps(metrics or {}, indent=2))
        (tmp / "card.md").write_text(card)
        if extra is not None:
            extra(tmp)  # e.g. the evaluation reports, swapped in together with the weights

    write_folder_atomically(out, fill)
    return out


@dataclasses.dataclass
class LoadedBundle:
    path: Path
    config: TrainConfig
    estimator: Any
    metrics: dict
    card: str


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"{path.parent}: not a serkit model bundle ({path.name} missing)") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: corrupt ({exc})") from None


def load_config(path: Path) -> TrainConfig:
    from serkit.features import FEATURE_VERSION

    raw = _read_json(path / "config.json")
    if not isinstance(raw, dict):
        raise BundleError(f"{path / 'config.json'}: corrupt (expected a JSON object)")
    try:
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        cfg = TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items() if k in fields})
    except TypeError as exc:
        raise BundleError(f"{path / 'config.json'}: corrupt or incomplete ({exc})") from None
    if not all(isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("config", {}), dict)
               for f in cfg.features):
        raise BundleError(f"{path / 'config.json'}: corrupt feature list {list(cfg.features)!r}")
    if cfg.feature_version != FEATURE_VERSION:
        raise BundleError(
            f"{path}: trained with feature version {cfg.feature_version!r} but this serkit computes version "
            f"{FEATURE_VERSION!r}; retrain the model with this serkit"
        )
    return cfg


def load_bundle(path: str | Path, *, load_estimator: bool = True) -> LoadedBundle:
    """load_estimator=False skips the native weights (the ONNX path: no torch import)."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: model bundle not found (expected a folder with config.json)")
    cfg = load_config(path)
    labels = _read_json(path / "labels.json")
    if list(labels) != list(cfg.labels):
        raise BundleError(f"{path}: labels.json {labels} disagrees with config.json {list(cfg.labels)}")
    if not load_estimator:
        estimator = None
    elif cfg.model_family == "torch":
        estimator = _load_torch(path, cfg)
    else:
        estimator = _load_skops(path / "model.skops")
        classes = [str(c) for c in estimator.classes_]
        if classes != list(cfg.labels):
            raise BundleError(f"{path}: model classes {classes} disagree with labels.json {list(cfg.labels)}")
    metrics = _read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    card = (path / "card.md").read_text() if (path / "card.md").exists() else ""
    return LoadedBundle(path, cfg, estimator, metrics, card)


def _load_torch(path: Path, cfg: TrainConfig):
    from safetensors.torch import load_file

    from serkit.models.neural import TorchClassifier

    f = path / "model.safetensors"
    if not f.is_file():
        raise BundleError(f"{path}: model.safetensors missing")
    try:
        state = load_file(str(f))
        return TorchClassifier.from_state(cfg.model_params, list(cfg.labels), tuple(cfg.input_shape), state)
    except Exception as exc:  # safetensors raises its own errors for truncated files
        raise BundleError(f"{f}: corrupt or incompatible weights ({str(exc).splitlines()[0]})") from None


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
