"""The model bundle: one folder, one layout for every model, so training and serving agree.

config.json          format, the ExperimentConfig it was trained with, labels, input shape, versions
labels.json          class names in the model's output order
model.safetensors    torch weights (no pickle)  | model.skops  scikit-learn model, loaded with an allow-list
normalization.npz    per-corpus normalisation: pooled training statistics, and adaptation statistics
adaptation.json      what it was adapted on (files, hours, date), when it was
model.onnx, *.onnx   ONNX files (`serkit export`), with onnx.json: what they were exported from
metrics.json         the evaluations behind it
card.md              data, protocol, scores, classes, licence
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serkit.errors import BundleError, ConfigError, SerkitError
from serkit.experiment import Component, ExperimentConfig, Normalization, Protocol
from serkit.io import atomic_write_text, file_sha256, write_folder_atomically
from serkit.normalization import STATS_FILE, Normalizer

FORMAT = 2
ADAPTATION_FILE = "adaptation.json"
ONNX_MANIFEST = "onnx.json"


@dataclasses.dataclass(frozen=True)
class BundleConfig:
    """What was trained and how; saved as config.json next to the weights."""

    experiment: ExperimentConfig
    labels: tuple[str, ...]  # model output order
    input_shape: tuple[int, ...]
    model_params: dict[str, Any]  # what the model family needs besides the weights to rebuild it
    corpora: tuple[str, ...] = ()
    n_files: int = 0
    serkit_version: str = ""
    feature_version: str = ""

    @property
    def model(self) -> Component:
        return self.experiment.model

    @property
    def features(self) -> tuple[Component, ...]:
        return self.experiment.features

    @property
    def normalize(self) -> Normalization:
        return self.experiment.normalize

    @property
    def normalizer(self) -> type[Normalizer]:
        return self.experiment.normalizer

    @property
    def input_size(self) -> int:
        """How many numbers one input row holds (the product of `input_shape`)."""
        return math.prod(self.input_shape)

    @property
    def spec(self):
        from serkit.models import get_model_spec

        return get_model_spec(self.model.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "experiment": self.experiment.to_dict(),
            "labels": list(self.labels),
            "input_shape": list(self.input_shape),
            "model_params": self.model_params,
            "corpora": list(self.corpora),
            "n_files": self.n_files,
            "serkit_version": self.serkit_version,
            "feature_version": self.feature_version,
        }


def is_bundle(folder: Path) -> bool:
    """A folder serkit wrote as a bundle (its config.json says so), not any app's config.json."""
    try:
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(raw, dict) and (
        {"format", "experiment", "labels"} <= set(raw) or {"model_family", "feature_version", "labels"} <= set(raw)
    )


# What serkit writes into a bundle folder. Anything else a user put there (notes, recordings, a notebook) is
# carried over unchanged when the bundle is written again.
BUNDLE_FILES = frozenset(
    {
        "config.json",
        "labels.json",
        "model.safetensors",
        "model.skops",
        STATS_FILE,
        ADAPTATION_FILE,
        ONNX_MANIFEST,
        "metrics.json",
        "card.md",
    }
)


# The report folders train writes into a bundle: `evaluation` (the configured protocol), then
# `evaluation_PROTOCOL` and `evaluation_PROTOCOL_adaptedN` (see evaluation_folder_name).
EVALUATION_FOLDER = re.compile(rf"evaluation(?:_(?:{'|'.join(p.value for p in Protocol)})(?:_adapted\d+)?)?")


def evaluation_folder_name(protocol: Protocol | None, adapt_files: int | None = None) -> str:
    """The name of an evaluation report folder in a bundle: the one rule train writes by and is_bundle_entry reads.

    Args:
        protocol: None for the bundle's own (first) evaluation, `evaluation`; otherwise the protocol of a
            further one, `evaluation_corpus`.
        adapt_files: the adaptation files of that evaluation, if any: `evaluation_corpus_adapted30`.

    Returns:
        The folder name.
    """
    if protocol is None:
        return "evaluation"
    return f"evaluation_{protocol.value}" + (f"_adapted{adapt_files}" if adapt_files else "")


def is_bundle_name(name: str) -> bool:
    """Whether serkit writes an entry of this name into a bundle folder: one of its files, an exported *.onnx
    file, or an evaluation report folder (EVALUATION_FOLDER).

    Args:
        name: an entry's name.

    Returns:
        True for a name a bundle uses; `evaluation_notes.md` is not one.
    """
    return is_bundle_file_name(name) or EVALUATION_FOLDER.fullmatch(name) is not None


def is_bundle_file_name(name: str) -> bool:
    """Whether serkit writes a file of this name into a bundle folder: one of BUNDLE_FILES, or an exported
    *.onnx file."""
    return name in BUNDLE_FILES or name.endswith(".onnx")


def is_bundle_entry(entry: Path) -> bool:
    """Whether an entry of a bundle folder is serkit's (replaced when the bundle is written again) rather than
    the user's (kept): a regular file of a name serkit writes (BUNDLE_FILES, *.onnx), or an evaluation report
    folder (`evaluation`, `evaluation_PROTOCOL[_adaptedN]`) holding a metrics.json. A link is never serkit's.

    Args:
        entry: an entry of a bundle folder.

    Returns:
        True when serkit wrote it.
    """
    name = entry.name
    if entry.is_symlink():
        return False
    if entry.is_file():
        return is_bundle_file_name(name)
    return entry.is_dir() and EVALUATION_FOLDER.fullmatch(name) is not None and (entry / "metrics.json").is_file()


def write_bundle_folder(out: Path, fill: Callable[[Path], None]) -> Path:
    """Swap in a bundle folder filled by fill(tmp), keeping every entry of the old one that is not serkit's."""
    return write_folder_atomically(out, fill, ours=is_bundle_entry)


def check_output(out: Path) -> None:
    """Refuse, before any work, to write a bundle over something that is not a bundle.

    The existing folder's entries are judged by one rule: an entry of a name a bundle writes (is_bundle_name)
    that serkit did not write (is_bundle_entry: a user's folder named `evaluation`, say) is refused here, in
    one line, rather than after the work; every other entry (`evaluation_notes.md`, recordings) is the user's,
    and write_bundle_folder carries it over.

    Args:
        out: the bundle folder a run is about to write.

    Raises:
        BundleError: out is not a folder, is a folder that is not a bundle, or holds a user's entry of a name
            the bundle writes.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BundleError(f"{out}: exists and is not a folder; choose another output", params=("output",))
    if out.exists() and any(out.iterdir()) and not is_bundle(out):
        raise BundleError(f"{out}: folder exists and is not a serkit bundle; refusing to overwrite it")
    for entry in sorted(out.iterdir()) if out.is_dir() else ():
        if is_bundle_name(entry.name) and not is_bundle_entry(entry):
            raise BundleError(
                f"{entry}: not written by serkit, and a bundle writes an entry of that name; move it "
                "away or choose another output",
                params=("output",),
            )  # refused before the work, not after it; any other entry is the user's, and kept


def save_bundle(
    out: Path,
    config: BundleConfig,
    estimator: Any,
    metrics: dict | None,
    card: str,
    *,
    stats: bytes | None = None,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write into a temp folder, then swap it in: a crash never leaves a half-written bundle."""
    out = Path(out)
    check_output(out)

    def fill(tmp: Path) -> None:
        atomic_write_text(tmp / "config.json", json.dumps(config.to_dict(), indent=2))
        atomic_write_text(tmp / "labels.json", json.dumps(list(config.labels), indent=2))
        config.spec.family.save(estimator, tmp)
        if stats is not None:
            (tmp / STATS_FILE).write_bytes(stats)
        atomic_write_text(tmp / "metrics.json", json.dumps(metrics or {}, indent=2))
        atomic_write_text(tmp / "card.md", card)
        if extra is not None:
            extra(tmp)  # e.g. the evaluation reports, swapped in together with the weights

    return write_bundle_folder(out, fill)


@dataclasses.dataclass(frozen=True)
class LoadedBundle:
    path: Path
    config: BundleConfig
    estimator: Any
    metrics: dict
    card: str
    normalizer: Normalizer  # the prediction-time normalisation, with its statistics (pooled, adapted)
    adaptation: dict | None = None  # what the statistics were adapted on (adaptation.json)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"{path.parent}: not a serkit model bundle ({path.name} missing)") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: corrupt ({exc})") from None


def _field(raw: dict, name: str, kind: type | tuple[type, ...], where: Path, expected: str) -> Any:
    value = raw.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BundleError(f"{where}: field {name!r} is {value!r}; expected {expected}")
    return value


def load_config(path: Path) -> BundleConfig:
    """config.json checked against its schema: one line naming the field, the value and what was expected."""
    from serkit.features import FEATURE_VERSION

    f = path / "config.json"
    raw = _read_json(f)
    if not isinstance(raw, dict):
        raise BundleError(f"{f}: corrupt (expected a JSON object)")
    if "format" not in raw:
        raise BundleError(
            f"{path}: bundle format 1 (written by serkit {raw.get('serkit_version') or 'before 0.2'}); "
            f"this serkit reads format {FORMAT}: retrain the model with this serkit"
        )
    if raw["format"] != FORMAT:
        raise BundleError(f"{f}: bundle format {raw['format']!r}; this serkit reads format {FORMAT}")
    feature_version = _field(raw, "feature_version", str, f, "a string such as " + repr(FEATURE_VERSION))
    if feature_version != FEATURE_VERSION:
        raise BundleError(
            f"{path}: trained with feature version {feature_version!r} but this serkit computes "
            f"version {FEATURE_VERSION!r}; retrain the model with this serkit"
        )
    labels = _field(raw, "labels", list, f, "a list of class names")
    if len(labels) < 2 or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
        raise BundleError(f"{f}: field 'labels' is {labels!r}; expected at least 2 distinct class names")
    shape = _field(raw, "input_shape", list, f, "a list of positive whole numbers")
    if not shape or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in shape):
        raise BundleError(f"{f}: field 'input_shape' is {shape!r}; expected a list of positive whole numbers")
    params = _field(raw, "model_params", dict, f, "an object")
    corpora = _field(raw, "corpora", list, f, "a list of corpus names")
    n_files = _field(raw, "n_files", int, f, "a whole number")
    try:
        experiment = ExperimentConfig.from_dict(
            _field(raw, "experiment", dict, f, "an object"), where=f"{f}: experiment"
        )
        experiment.model  # noqa: B018  (exactly one model)
    except ConfigError as exc:
        raise BundleError(str(exc) if str(exc).startswith(str(f)) else f"{f}: {exc}") from None
    return BundleConfig(
        experiment,
        tuple(labels),
        tuple(shape),
        params,
        tuple(map(str, corpora)),
        n_files,
        str(raw.get("serkit_version", "")),
        feature_version,
    )


def load_bundle(path: str | Path, *, load_estimator: bool = True) -> LoadedBundle:
    """load_estimator=False skips the native weights (the ONNX path: no torch, no scikit-learn import)."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: model bundle not found (expected a folder with config.json)")
    cfg = load_config(path)
    labels = _read_json(path / "labels.json")
    if labels != list(cfg.labels):
        raise BundleError(f"{path}: labels.json {labels} disagrees with config.json {list(cfg.labels)}")
    estimator = None
    if load_estimator:
        try:
            estimator = cfg.spec.family.load(
                path, params=cfg.model_params, labels=list(cfg.labels), input_shape=cfg.input_shape
            )
        except ImportError as exc:  # the light install: no torch, no scikit-learn
            from serkit.extras import missing_extra

            missing = missing_extra(exc, f"{path}: the native {cfg.model.name} model")
            if missing is None:
                raise
            raise type(missing)(
                missing.extra,
                missing.what,
                f"or run `serkit export {path}` on a machine that has it, and predict through the ONNX files",
            ) from None
    stats_file = path / STATS_FILE
    normalizer = cfg.normalizer.load(stats_file if stats_file.is_file() else None, dim=cfg.input_size, where=path)
    adaptation = _read_json(path / ADAPTATION_FILE) if (path / ADAPTATION_FILE).exists() else None
    if adaptation is not None and normalizer.adapted is None:
        raise BundleError(f"{path}: {ADAPTATION_FILE} present but {STATS_FILE} holds no adaptation statistics")
    metrics = _read_json(path / "metrics.json") if (path / "metrics.json").exists() else {}
    card = (path / "card.md").read_text(errors="replace") if (path / "card.md").is_file() else ""
    return LoadedBundle(
        path, cfg, estimator, metrics if isinstance(metrics, dict) else {}, card, normalizer, adaptation
    )


def check_adapted_output(source: str | Path, output: str | Path) -> Path:
    """Where an adapted bundle of the bundle at `source` may be written: checked before any work is done.

    Args:
        source: The folder of the bundle being adapted.
        output: The new bundle's folder.

    Returns:
        `output` as a Path.

    Raises:
        SerkitError: `output` is the source bundle's own folder (adaptation writes a new bundle).
        BundleError: `output` exists and is not a bundle.
    """
    out = Path(output)
    if out.resolve() == Path(source).resolve():
        raise SerkitError(f"{out}: is the model being adapted; choose a new output", params=("output",))
    check_output(out)
    return out


def save_adapted(bundle: LoadedBundle, output: str | Path, *, card: str) -> Path:
    """Write an adapted bundle as a new folder: the original's files, with the adapted normalisation statistics,
    adaptation.json and the card (see `reports.bundle_card`) replaced. Atomic, like `save_bundle`.

    Args:
        bundle: The adapted bundle (in memory: `Predictor.adapt` made its statistics), whose folder is the original.
        output: The new bundle folder.
        card: card.md's text.

    Raises:
        SerkitError: the bundle is not adapted, or output is the original's folder.
        BundleError: output exists and is not a bundle.
    """
    import shutil

    stats = bundle.normalizer.to_bytes()
    if bundle.adaptation is None or stats is None:
        raise SerkitError("this model is not adapted; call adapt(paths) first")
    out = check_adapted_output(bundle.path, output)
    src = bundle.path

    def fill(tmp: Path) -> None:
        for f in src.iterdir():
            if f.name in (STATS_FILE, ADAPTATION_FILE, "card.md") or not is_bundle_entry(f):
                continue  # the user's own files in the source bundle stay there
            (shutil.copytree if f.is_dir() else shutil.copy2)(f, tmp / f.name)
        (tmp / STATS_FILE).write_bytes(stats)
        atomic_write_text(tmp / ADAPTATION_FILE, json.dumps(bundle.adaptation, indent=2))
        atomic_write_text(tmp / "card.md", card)

    return write_bundle_folder(out, fill)


# -- ONNX files: recorded with what they were exported from, refused when they do not match --------------
def onnx_manifest(folder: Path, cfg: BundleConfig, files: list[str]) -> dict[str, Any]:
    """What `serkit export` records beside the ONNX files: their hashes, the classes, the input size and a
    hash of the native weights they were exported from."""
    return {
        "labels": list(cfg.labels),
        "input_shape": list(cfg.input_shape),
        "native_sha256": file_sha256(folder / cfg.spec.family.weights_file),
        "files": {name: file_sha256(folder / name) for name in files},
    }


def check_onnx(folder: Path, cfg: BundleConfig) -> dict[str, Any]:
    """The manifest, after checking that every ONNX file is the one exported from this bundle's model."""
    f = folder / ONNX_MANIFEST
    if not f.is_file():
        raise BundleError(
            f"{folder}: no ONNX export recorded ({ONNX_MANIFEST} missing); run `serkit export {folder} --format onnx`"
        )
    manifest = _read_json(f)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{f}: corrupt")
    if manifest.get("labels") != list(cfg.labels) or manifest.get("input_shape") != list(cfg.input_shape):
        raise BundleError(
            f"{folder}: the ONNX files were exported for classes {manifest.get('labels')} and input "
            f"{manifest.get('input_shape')}, but the model has {list(cfg.labels)} and "
            f"{list(cfg.input_shape)}; run `serkit export {folder}` again"
        )
    weights = folder / cfg.spec.family.weights_file
    if weights.is_file() and file_sha256(weights) != manifest.get("native_sha256"):
        raise BundleError(
            f"{folder}: the ONNX files were exported from other weights than "
            f"{weights.name}; run `serkit export {folder}` again"
        )
    for name, digest in manifest["files"].items():
        p = folder / name
        if not p.is_file():
            raise BundleError(f"{p}: missing; run `serkit export {folder}` again")
        if file_sha256(p) != digest:
            raise BundleError(
                f"{p}: not the file `serkit export` wrote for this model (checksum differs); "
                f"run `serkit export {folder}` again"
            )
    return manifest
