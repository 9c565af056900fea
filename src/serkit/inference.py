"""Prediction: a Predictor loaded from one bundle answers for signals, files, folders and uploads."""

from __future__ import annotations

import copy
import dataclasses
import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from serkit import audio
from serkit.backends import Backend
from serkit.bundle import LoadedBundle, load_bundle
from serkit.errors import AudioError, BundleError, DataError, SerkitError, UnknownNameError
from serkit.normalization import MIN_SPEAKER_FILES

if TYPE_CHECKING:
    from serkit.batching import WorkerSpec
    from serkit.normalization import Normalizer
    from serkit.onnx_runtime import OnnxClassifier

__all__ = [
    "LONG_AUDIO_SECONDS",
    "MIN_SPEAKER_FILES",
    "Backend",
    "Prediction",
    "Predictor",
    "Segment",
    "Timeline",
    "default_model_path",
    "expand_paths",
]

LONG_AUDIO_SECONDS = 10.0
MAX_UPLOAD_SECONDS = 600.0  # ten minutes: what the web page can record
# Decoded samples an upload may cost (channels x rate x seconds): ten minutes of 48 kHz stereo, 230 MB as float32.
MAX_UPLOAD_SAMPLES = 57_600_000
UNCERTAIN = "uncertain"


@dataclasses.dataclass(frozen=True)
class Segment:
    """One speech segment of a long recording or a live stream, predicted on its own.

    Attributes:
        start: Where it starts, in seconds from the beginning.
        end: Where it ends, in seconds.
        label: Its top class, or `uncertain` below the Predictor's `min_confidence`.
        confidence: The top class's probability.
        probabilities: Every class's probability, in label order.
    """

    start: float
    end: float
    label: str
    confidence: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """The segment as JSON-ready values (times rounded to 1 ms, probabilities to 6 digits).

        Returns:
            `start`, `end`, `label`, `confidence` and `probabilities`.
        """
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
        }


@dataclasses.dataclass(frozen=True)
class Prediction:
    """What the model says about one recording, or why it could not say anything.

    A file that cannot be used is a Prediction with `error` set and no label, so a batch never fails for
    one bad file.

    Attributes:
        path: The file (or the name given to a signal or upload); None for an unnamed signal.
        label: The top class, `uncertain` below the Predictor's `min_confidence`; None on error.
        confidence: The top class's probability; None on error.
        probabilities: Every class's probability, in label order; None on error.
        segments: For a long recording, each speech segment's own prediction; None otherwise.
        error: Why the recording could not be predicted (one line); None on success.
        duration: The recording's length in seconds, when known.
    """

    path: str | None
    label: str | None
    confidence: float | None
    probabilities: dict[str, float] | None
    segments: tuple[Segment, ...] | None = None
    error: str | None = None
    duration: float | None = None

    @property
    def ok(self) -> bool:
        """Whether the recording was predicted (no error)."""
        return self.error is None

    def top(self, k: int) -> list[tuple[str, float]]:
        """The `k` most probable classes.

        Args:
            k: How many classes.

        Returns:
            (label, probability) pairs, most probable first; empty on error.
        """
        return sorted((self.probabilities or {}).items(), key=lambda kv: -kv[1])[:k]

    def to_dict(self) -> dict[str, Any]:
        """The prediction as JSON-ready values (what `serkit predict --format json` and the server write).

        Returns:
            `path`, `label`, `confidence`, `probabilities` (rounded to 6 digits) and `error` on error, or
            `duration` and `segments` when known.
        """
        out: dict[str, Any] = {"path": self.path}
        if self.error is not None:
            out.update({"label": None, "confidence": None, "probabilities": None, "error": self.error})
            return out
        out["label"] = self.label
        out["confidence"] = round(float(self.confidence or 0.0), 6)
        out["probabilities"] = {k: round(float(v), 6) for k, v in (self.probabilities or {}).items()}
        if self.duration is not None:
            out["duration"] = round(self.duration, 3)
        if self.segments is not None:
            out["segments"] = [s.to_dict() for s in self.segments]
        return out


def default_model_path() -> Path:
    return Path(__file__).parent / "default_model"


def expand_paths(items: Iterable[str | Path], *, problems: list[tuple[str, str]] | None = None) -> list[str]:
    """Files, folders (recursively: audio only, symlinked folders followed) and globs, in a stable order;
    `~` is expanded. Audio-named entries a folder walk cannot read (a FIFO, a broken link) are never opened
    (a FIFO would block): they go to `problems` as (path, reason) when a list is given."""
    from serkit.io import walk_files

    out: list[str] = []
    for item in items:
        s = os.path.expanduser(str(item))
        p = Path(s)
        if p.is_dir():
            files, unreadable = walk_files(p, audio.is_audio_entry)
            out += sorted(str(f) for f in files)
            if problems is not None:
                problems += [(str(f), reason) for f, reason in unreadable]
        elif not p.exists() and any(ch in s for ch in "*?["):
            out += sorted(f for f in glob.glob(s, recursive=True) if Path(f).is_file())
        else:
            out.append(s)
    return out


class Predictor:
    """Loaded once, used many times: feature extractors, normalisation and model come from one bundle.

    A Predictor is never changed after it is made: `adapt` and `with_normalizer` return new ones that share the
    loaded extractors and model.
    """

    def __init__(self, bundle: LoadedBundle, *, min_confidence: float = 0.0, transductive: bool = False) -> None:
        """
        Args:
            bundle: The loaded bundle (`bundle.load_bundle`); without native weights, its ONNX files are the model.
            min_confidence: Below this top probability the label is `uncertain`.
            transductive: The normalisation statistics come from the very files being predicted (shown by
                `describe`).

        Raises:
            ConfigError: min_confidence outside 0..1.
            BundleError: no native weights and no usable ONNX export.
        """
        from serkit.experiment import check_range

        check_range("min_confidence", min_confidence, 0.0, 1.0)
        self.bundle = bundle
        self.config = bundle.config
        self.labels: list[str] = list(bundle.config.labels)
        self.min_confidence = min_confidence
        self.transductive = transductive
        self.extractors = bundle.config.experiment.extractors()
        self._onnx: OnnxClassifier | None = None
        if bundle.estimator is None:
            self._load_onnx()  # loaded without native weights: the exported files are the model

    @classmethod
    def load(
        cls, path: str | Path | None = None, *, min_confidence: float = 0.0, backend: str | Backend = Backend.AUTO
    ) -> Predictor:
        """A Predictor for the bundle at `path`: the usual way to make one.

        Args:
            path: A bundle folder (from `serkit train`, `adapt` or `export`); None for the shipped default model.
            min_confidence: Below this top probability the label is `uncertain`.
            backend: The runtime: `auto` (ONNX when the bundle has an export, else native), `onnx` or `native`.

        Returns:
            The loaded Predictor.

        Raises:
            UnknownNameError: `backend` is not one of auto, onnx, native.
            BundleError: the bundle (or the default model) is missing, corrupt or incompatible.
            ConfigError: min_confidence outside 0..1.
        """
        from serkit.bundle import ONNX_MANIFEST

        try:
            backend = Backend(backend)
        except ValueError:
            raise UnknownNameError("backend", backend, [b.value for b in Backend]) from None
        target = Path(path) if path is not None else default_model_path()
        if path is None and not (target / "config.json").exists():
            raise BundleError(f"{target}: the default model is not installed; pass path=BUNDLE", params=("path",))
        if backend is Backend.AUTO:
            backend = Backend.ONNX if (target / ONNX_MANIFEST).is_file() else Backend.NATIVE
        return cls(load_bundle(target, load_estimator=backend is not Backend.ONNX), min_confidence=min_confidence)

    def _load_onnx(self) -> None:
        """Run the classifier and every extractor that has an export through onnxruntime: no torch."""
        from serkit.bundle import check_onnx
        from serkit.onnx_runtime import CLASSIFIER_FILE, OnnxClassifier

        folder = self.bundle.path
        manifest = check_onnx(folder, self.config)
        if CLASSIFIER_FILE not in manifest["files"]:
            raise BundleError(f"{folder}: no {CLASSIFIER_FILE}; run `serkit export {folder} --format onnx`")
        self._onnx = OnnxClassifier(folder / CLASSIFIER_FILE)
        for ex in self.extractors:
            ex.use_onnx(folder)

    @property
    def normalizer(self) -> Normalizer:
        """The normalisation this Predictor applies (the bundle's scheme, with its or the adapted statistics)."""
        return self.bundle.normalizer

    @property
    def backend(self) -> Backend:
        """The runtime in use: ONNX or native."""
        return Backend.ONNX if self._onnx is not None else Backend.NATIVE

    def describe(self) -> dict[str, Any]:
        """What this model is, for people and for the web app: its card in data.

        Returns:
            The model, features, labels, training corpora and their languages and licence, the normalisation,
            the headline and per-protocol accuracies, the adaptation (if any) and whether it is transductive,
            the bundle's name, path and model card.
        """
        from serkit.corpora.licences import languages, licence_summary

        c, m = self.config, self.bundle.metrics
        return {
            "model": str(c.model),
            "features": [str(f) for f in c.features],
            "labels": self.labels,
            "corpora": list(c.corpora),
            "languages": languages(c.corpora),
            "normalize": c.normalize.value,
            "ua": m.get("ua"),
            "wa": m.get("wa"),
            "protocol": m.get("protocol_label"),
            "evaluations": [
                {k: e.get(k) for k in ("protocol_label", "ua", "ua_std", "fold_names")}
                for e in m.get("evaluations", [])
            ],
            "adaptation": self.bundle.adaptation,
            "transductive": self.transductive,
            "name": self.bundle.path.name,
            "path": str(self.bundle.path),
            "card": self.bundle.card,
            "licence": licence_summary(c.corpora),
        }

    # -- new Predictors from this one ----------------------------------------------------------------
    def with_normalizer(
        self, normalizer: Normalizer, *, adaptation: dict | None = None, transductive: bool = False
    ) -> Predictor:
        """The same model with other normalisation statistics (e.g. adapted ones computed elsewhere).

        Args:
            normalizer: Of the bundle's scheme.
            adaptation: What the statistics were adapted on (files, hours, date), as adaptation.json records.
            transductive: The statistics come from the files being predicted.

        Returns:
            A new Predictor; this one is unchanged.

        Raises:
            ConfigError: the normalizer is of another scheme than the bundle's.
        """
        from serkit.errors import ConfigError

        if type(normalizer) is not type(self.normalizer):
            raise ConfigError(
                f"normalizer is a {type(normalizer).__name__}; this model normalises with "
                f"{type(self.normalizer).__name__}",
                params=("normalizer",),
            )
        bundle = dataclasses.replace(
            self.bundle,
            normalizer=normalizer,
            adaptation=adaptation if adaptation is not None else self.bundle.adaptation,
        )
        new = copy.copy(self)  # shares this one's loaded extractors and model: nothing is reloaded
        new.bundle = bundle
        new.transductive = transductive
        return new

    def adapt(
        self,
        paths: Iterable[str | Path],
        *,
        progress: bool = False,
        workers: int | None = None,
        executor: Any = None,
        transductive: bool = False,
    ) -> Predictor:
        """A Predictor for the domain of these recordings: the same model, with every input z-scored by the
        feature statistics of these unlabelled files (no label, name or folder layout is read).

        Args:
            paths: Files, folders or globs: at least MIN_ADAPT_FILES readable, different recordings.
            progress: Show a progress bar.
            workers: Size of the local feature-extraction pool.
            executor: A concurrent.futures.Executor or a dask.distributed Client instead.
            transductive: These are the very files about to be predicted (labelled so by `describe`).

        Returns:
            A new, adapted Predictor; this one is unchanged.

        Raises:
            SerkitError: the model's normalisation cannot be adapted.
            DataError: fewer than MIN_ADAPT_FILES recordings were given or could be read, or they are copies
                or near-identical (degenerate statistics).
        """
        import datetime

        from serkit.features import extract_features
        from serkit.features.assemble import assemble
        from serkit.normalization import MIN_ADAPT_FILES

        self.normalizer.check_adaptable(self.bundle.path)
        paths = list(paths)  # read twice: expanded here, named in the message below (a generator is read once)
        files = expand_paths(paths)
        if len(files) < MIN_ADAPT_FILES:
            raise DataError(
                f"adaptation needs at least {MIN_ADAPT_FILES} recordings; got {len(files)} audio "
                f"file(s) in {' '.join(map(str, paths))}"
            )
        res = extract_features(
            files, self.extractors, cache=None, workers=workers, executor=executor, progress=progress, desc="adapt"
        )
        ok = [i for i in range(len(files)) if i not in res.failed]
        if len(ok) < MIN_ADAPT_FILES:
            reasons = "; ".join(f"{files[i]}: {r}" for i, r in list(res.failed.items())[:2])
            raise DataError(
                f"adaptation needs at least {MIN_ADAPT_FILES} usable recordings; {len(ok)} of "
                f"{len(files)} could be read (e.g. {reasons})"
            )
        X = assemble(self.config.spec.input, [res.stacked(ex.name, ok) for ex in self.extractors])
        normalizer = self.normalizer.adapt(X)
        seconds = sum(audio.info(files[i]).duration for i in ok)
        adaptation = {
            "files": len(ok),
            "hours": round(seconds / 3600, 4),
            "skipped": len(files) - len(ok),
            "date": datetime.date.today().isoformat(),
            "from": self.bundle.adaptation and self.bundle.adaptation.get("from") or self.bundle.path.name,
        }
        return self.with_normalizer(normalizer, adaptation=adaptation, transductive=transductive)

    def save_adapted(self, output: str | Path) -> Path:
        """Write this adapted Predictor as a new bundle (`bundle.save_adapted`): the original's files plus the
        adaptation statistics and a card that says so.

        Args:
            output: The new bundle's folder.

        Returns:
            The folder written.

        Raises:
            SerkitError: this Predictor is not adapted, or `output` is the original bundle's folder.
            BundleError: `output` exists and is not a bundle.
        """
        from serkit.bundle import save_adapted
        from serkit.reports import bundle_card

        cfg = self.config
        card = bundle_card(
            cfg.experiment,
            extractors=self.extractors,
            labels=self.labels,
            corpora=list(cfg.corpora),
            n_files=cfg.n_files,
            metrics=self.bundle.metrics,
            adaptation=self.bundle.adaptation,
        )
        return save_adapted(self.bundle, output, card=card)

    # -- core ----------------------------------------------------------------------
    def features(self, signal: np.ndarray) -> list[np.ndarray]:
        """One 16 kHz mono signal's features, one array per extractor of the bundle.

        Args:
            signal: 16 kHz mono float32 samples.

        Returns:
            One array per extractor, in the bundle's order (what `probabilities` takes as one row).
        """
        return [ex.extract(signal) for ex in self.extractors]

    def probabilities(self, rows: Sequence[list[np.ndarray]], *, whole_batch: bool = False) -> np.ndarray:
        """Class probabilities (label order) of rows of `features`, normalised as the model expects.

        Args:
            rows: One `features(...)` result per recording.
            whole_batch: The rows are a batch of recordings predicted together (per-batch normalisations
                need it).

        Returns:
            An array of shape (rows, classes): each row's class probabilities.
        """
        from serkit.features.assemble import assemble

        parts = [np.stack([r[i] for r in rows]) for i in range(len(self.extractors))]
        X = self.normalizer.transform(assemble(self.config.spec.input, parts), whole_batch=whole_batch)
        if self._onnx is not None:
            return self._onnx.predict_proba(X)
        return np.asarray(self.bundle.estimator.predict_proba(X), dtype=np.float64)

    def decide(
        self,
        probabilities: np.ndarray | Sequence[float],
        *,
        path: str | None = None,
        duration: float | None = None,
        segments: tuple[Segment, ...] | None = None,
    ) -> Prediction:
        """A Prediction from class probabilities in label order: the top class, or `uncertain` below
        min_confidence (also for probabilities pooled outside the Predictor, e.g. a live stream's smoothing).

        Args:
            probabilities: One probability per class, in label order.
            path: The name the Prediction carries.
            duration: The recording's length in seconds, if known.
            segments: The speech segments the probabilities were pooled from, if any.

        Returns:
            The Prediction.
        """
        proba = np.asarray(probabilities, dtype=np.float64)
        probs = {c: float(p) for c, p in zip(self.labels, proba, strict=True)}
        k = int(np.argmax(proba))
        conf = float(proba[k])
        label = self.labels[k] if conf >= self.min_confidence else UNCERTAIN
        return Prediction(path, label, conf, probs, segments, None, duration)

    def predict_signal(
        self,
        signal: np.ndarray,
        sample_rate: int = audio.SAMPLE_RATE,
        *,
        name: str | None = None,
        segment: bool | None = None,
    ) -> Prediction:
        """Predict samples already in memory (resampled to 16 kHz and mixed to mono here).

        Args:
            signal: The samples: 1-D, or 2-D with a channel axis (either orientation).
            sample_rate: Their sampling rate in Hz.
            name: What the Prediction and error messages call the signal.
            segment: Predict speech segments one by one and pool them; None: only when longer than
                LONG_AUDIO_SECONDS.

        Returns:
            The Prediction.

        Raises:
            AudioError: the signal is too short or too long, silent, holds NaN or infinite values, or (when
                segmented) has no speech.
        """
        signal = np.asarray(signal, dtype=np.float32)
        if signal.ndim == 2:
            signal = audio.to_mono(signal if signal.shape[0] > signal.shape[1] else signal.T)
        signal = audio.resample(signal, int(sample_rate))
        audio.validate(signal, audio.SAMPLE_RATE, name=name or "<signal>")
        duration = len(signal) / audio.SAMPLE_RATE
        if segment or (segment is None and duration > LONG_AUDIO_SECONDS):
            return self._predict_stream(name, [signal])
        return self.decide(self.probabilities([self.features(signal)])[0], path=name, duration=duration)

    def predict_bytes(
        self,
        data: bytes,
        *,
        name: str = "<upload>",
        segment: bool | None = None,
        max_duration: float | None = MAX_UPLOAD_SECONDS,
        max_samples: int | None = MAX_UPLOAD_SAMPLES,
    ) -> Prediction:
        """For uploads: bounded by duration and by decoded samples, from the header before anything is
        decoded, and while decoding where the header does not state the length (``audio.load``).

        Args:
            data: The encoded audio file's bytes (WAV, FLAC, OGG, MP3, ...).
            name: What the Prediction and error messages call the upload.
            segment: Predict speech segments one by one and pool them; None: only for long recordings.
            max_duration: Refuse longer audio (seconds); None for no limit.
            max_samples: Refuse audio that decodes to more samples (channels x rate x seconds); None for no limit.

        Returns:
            The Prediction.

        Raises:
            AudioError: the bytes are not usable audio, or exceed a bound.
        """
        signal = audio.load(data, name=name, max_duration=max_duration, max_samples=max_samples)
        return self.predict_signal(signal, name=name, segment=segment)

    def predict_file(self, path: str | Path, *, segment: bool | None = None) -> Prediction:
        """Predict one audio file; a long one is read in blocks and segmented, so memory stays bounded.

        Args:
            path: The audio file.
            segment: Predict speech segments one by one and pool them; None: only when longer than
                LONG_AUDIO_SECONDS.

        Returns:
            The Prediction.

        Raises:
            AudioError: the file is missing, unreadable or not usable speech audio.
        """
        p = str(path)
        info = audio.info(p)
        if segment or (segment is None and info.duration > LONG_AUDIO_SECONDS):
            return self._predict_stream(p, audio.iter_blocks(p, block_seconds=30.0))
        return self.predict_signal(audio.load(p), name=p, segment=False)

    def _predict_stream(self, name: str | None, blocks: Iterable[np.ndarray]) -> Prediction:
        """Segment on speech, predict each segment, pool by duration: bounded memory."""
        from serkit.segment import segments as speech_segments

        timeline = Timeline(self, name)
        for start, stop, samples in speech_segments(timeline.counted(blocks)):
            timeline.add(start, stop, samples)
        return timeline.result()

    def predict_files(
        self,
        paths: Iterable[str | Path],
        *,
        progress: bool = False,
        segment: bool | None = None,
        batch_size: int = 32,
        workers: int | None = None,
        executor: Any = None,
    ) -> list[Prediction]:
        """Every file's Prediction, in the order of `paths` (folders and globs expanded); a file that cannot
        be read is an error entry and the rest are still predicted.

        Batches of files run on `executor` (any concurrent.futures.Executor, or a dask.distributed Client:
        its workers read the files by path and load this model once each), or else on the local pool of
        `workers` processes (by default one per core for 16 files or more; an ONNX model runs in this process).

        Args:
            paths: Files, folders (searched recursively for audio) and globs.
            progress: Show a progress bar.
            segment: Segment every file (True), none (False), or only long ones (None).
            batch_size: Files per batch (one model call for the short ones).
            workers: Size of the local process pool; None picks one per core for 16 files or more.
            executor: A concurrent.futures.Executor or a dask.distributed Client to run the batches on.

        Returns:
            One Prediction per file, in input order.
        """
        files = expand_paths(paths)
        results: list[Prediction | None] = [None] * len(files)
        for i, prediction in self._predictions(
            files, progress=progress, segment=segment, batch_size=batch_size, workers=workers, executor=executor
        ):
            results[i] = prediction
        return [r for r in results if r is not None]

    def iter_predictions(
        self,
        paths: Iterable[str | Path],
        *,
        progress: bool = False,
        segment: bool | None = None,
        batch_size: int = 32,
        workers: int | None = None,
        executor: Any = None,
    ) -> Iterator[Prediction]:
        """Like predict_files, but each Prediction as soon as its batch is done (so not in input order): a
        caller that writes them out holds none of them, however many files.

        Args:
            paths: Files, folders (searched recursively for audio) and globs.
            progress: Show a progress bar.
            segment: Segment every file (True), none (False), or only long ones (None).
            batch_size: Files per batch (one model call for the short ones).
            workers: Size of the local process pool; None picks one per core for 16 files or more.
            executor: A concurrent.futures.Executor or a dask.distributed Client to run the batches on.

        Yields:
            One Prediction per file, as its batch finishes.
        """
        for _, prediction in self._predictions(
            expand_paths(paths),
            progress=progress,
            segment=segment,
            batch_size=batch_size,
            workers=workers,
            executor=executor,
        ):
            yield prediction

    def _predictions(
        self,
        files: list[str],
        *,
        progress: bool,
        segment: bool | None,
        batch_size: int,
        workers: int | None,
        executor: Any,
    ) -> Iterator[tuple[int, Prediction]]:
        from serkit.batching import run_predictions

        return run_predictions(
            self,
            files,
            spec=self.worker_spec,
            lost=_lost_file,
            whole_batch=self.normalizer.per_batch,
            in_process=self._onnx is not None,
            progress=progress,
            segment=segment,
            batch_size=batch_size,
            workers=workers,
            executor=executor,
        )

    def predict_batch(self, files: Sequence[str], *, segment: bool | None = None) -> list[Prediction]:
        """One batch: long files segmented one by one, the short ones in one model call; a file that cannot
        be used is an error entry, never a failed batch.

        Args:
            files: Audio file paths (no folders or globs).
            segment: Segment every file (True), none (False), or only long ones (None).

        Returns:
            One Prediction per file, in input order.
        """
        out: dict[int, Prediction] = {}
        rows, short, durations = [], [], []
        for i, f in enumerate(files):
            try:
                info = audio.info(f)
                if segment or (segment is None and info.duration > LONG_AUDIO_SECONDS):
                    out[i] = self.predict_file(f, segment=True)
                    continue
                rows.append(self.features(audio.load(f)))
            except SerkitError as exc:
                out[i] = Prediction(f, None, None, None, error=str(exc))
                continue
            short.append(i)
            durations.append(info.duration)
        if rows:
            for i, proba, d in zip(short, self.probabilities(rows, whole_batch=True), durations, strict=True):
                out[i] = self.decide(proba, path=files[i], duration=d)
        return [out[i] for i in range(len(files))]

    # -- worker processes ------------------------------------------------------------------------
    def worker_spec(self) -> WorkerSpec:
        """What a worker process rebuilds this Predictor from (`from_worker_spec`): the bundle by path, plus the
        normalisation statistics this one applies (which `adapt` may have replaced in memory).

        Returns:
            A small picklable description of this Predictor.
        """
        from serkit.batching import WorkerSpec
        from serkit.normalization import statistics_spec

        return WorkerSpec(
            Predictor.from_worker_spec,
            str(self.bundle.path.resolve()),
            self.backend.value,
            float(self.min_confidence),
            statistics_spec(self.normalizer),
        )

    @classmethod
    def from_worker_spec(cls, spec: WorkerSpec) -> Predictor:
        """The Predictor a `worker_spec` describes.

        Args:
            spec: What `worker_spec` returned, in this or another process.

        Returns:
            A Predictor equal to the one that made `spec`.

        Raises:
            BundleError: the bundle cannot be loaded in this process.
        """
        from serkit.normalization import from_spec

        predictor = cls.load(spec.path, min_confidence=spec.min_confidence, backend=spec.backend)
        normalizer = from_spec(spec.normalization, dim=predictor.config.input_size)
        return predictor.with_normalizer(normalizer)


def _lost_file(path: str, reason: str) -> Prediction:
    return Prediction(path, None, None, None, error=f"{path}: {reason}")


class Timeline:
    """The timeline of a long recording or a live stream: each speech segment predicted on its own, the overall
    result their duration-weighted mean. One implementation, so `serkit listen` ends where `predict` would."""

    def __init__(self, predictor: Predictor, name: str | None) -> None:
        self.predictor = predictor
        self.name = name
        self.segments: list[Segment] = []
        self.weighted = np.zeros(len(predictor.labels))
        self.total = 0.0
        self.seen = 0  # samples the audio had (speech or not), for the duration and the loader's checks
        self.peak = 0.0

    def observe(self, block: np.ndarray) -> None:
        """Count a block of the stream (16 kHz mono) whether or not it holds speech."""
        self.seen += len(block)
        if len(block):
            self.peak = max(self.peak, float(np.max(np.abs(block))))

    def counted(self, blocks: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
        for block in blocks:
            self.observe(block)
            yield block

    def add(self, start: float, stop: float, samples: np.ndarray) -> Segment:
        p = self.predictor
        proba = p.probabilities([p.features(samples)])[0]
        r = p.decide(proba)
        seg = Segment(start, stop, r.label or UNCERTAIN, float(r.confidence or 0), r.probabilities or {})
        self.segments.append(seg)
        self.weighted += proba * (stop - start)
        self.total += stop - start
        return seg

    def result(self) -> Prediction:
        """The pooled prediction with its segments; an AudioError when no segment was found."""
        if not self.segments:
            # The loader's checks, from what the stream saw (the audio was never held whole).
            audio.check_length_and_level(self.seen, self.peak, audio.SAMPLE_RATE, name=self.name or "<signal>")
            from serkit.errors import AudioProblem

            raise AudioError(self.name, "no speech found (no segment above the noise floor)", AudioProblem.NO_SPEECH)
        return self.predictor.decide(
            self.weighted / self.total,
            path=self.name,
            duration=self.seen / audio.SAMPLE_RATE,
            segments=tuple(self.segments),
        )
