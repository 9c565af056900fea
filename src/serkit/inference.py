"""Prediction: a Predictor loaded from one bundle answers for signals, files, folders and uploads."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from enum import Enum
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from serkit import audio
from serkit.bundle import LoadedBundle, load_bundle
from serkit.errors import AudioError, BundleError, SerkitError, UnknownNameError

LONG_AUDIO_SECONDS = 10.0
MIN_SPEAKER_FILES = 10
MAX_UPLOAD_SECONDS = 600.0  # ten minutes: what the web page can record
UNCERTAIN = "uncertain"


@dataclasses.dataclass(frozen=True)
class Segment:
    start: float
    end: float
    label: str
    confidence: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "label": self.label,
                "confidence": round(self.confidence, 6),
                "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()}}


@dataclasses.dataclass(frozen=True)
class Prediction:
    path: str | None
    label: str | None
    confidence: float | None
    probabilities: dict[str, float] | None
    segments: tuple[Segment, ...] | None = None
    error: str | None = None
    duration: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def top(self, k: int) -> list[tuple[str, float]]:
        return sorted((self.probabilities or {}).items(), key=lambda kv: -kv[1])[:k]

    def to_dict(self) -> dict[str, Any]:
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


class Backend(str, Enum):
    AUTO = "auto"  # ONNX when the bundle has an export (torch-free, fast start), else native
    NATIVE = "native"
    ONNX = "onnx"


class Predictor:
    """Loaded once, used many times: feature extractors, normalisation and model come from one bundle."""

    def __init__(self, bundle: LoadedBundle, *, min_confidence: float = 0.0) -> None:
        from serkit.experiment import check_range

        check_range("--min-confidence", min_confidence, 0.0, 1.0)
        self.bundle = bundle
        self.config = bundle.config
        self.labels: list[str] = list(bundle.config.labels)
        self.min_confidence = min_confidence
        self.extractors = bundle.config.experiment.extractors()
        self._onnx = None
        self.transductive = False  # adapted on the very files it predicts (predict --adapt)
        if bundle.estimator is None:
            self.use_onnx()  # loaded without native weights: the exported files are the model

    @classmethod
    def load(cls, path: str | Path | None = None, *, min_confidence: float = 0.0,
             backend: str | Backend = Backend.AUTO) -> "Predictor":
        from serkit.bundle import ONNX_MANIFEST

        try:
            backend = Backend(backend)
        except ValueError:
            raise UnknownNameError("backend", backend, [b.value for b in Backend]) from None
        target = Path(path) if path is not None else default_model_path()
        if path is None and not (target / "config.json").exists():
            raise BundleError(f"{target}: the default model is not installed; pass --model BUNDLE")
        if backend is Backend.AUTO:
            backend = Backend.ONNX if (target / ONNX_MANIFEST).is_file() else Backend.NATIVE
        return cls(load_bundle(target, load_estimator=backend is not Backend.ONNX), min_confidence=min_confidence)

    def use_onnx(self) -> None:
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

    def describe(self) -> dict[str, Any]:
        from serkit.corpora.licences import languages, licence_summary

        c, m = self.config, self.bundle.metrics
        return {
            "model": str(c.model), "features": [str(f) for f in c.features], "labels": self.labels,
            "corpora": list(c.corpora), "languages": languages(c.corpora), "normalize": c.normalize.value,
            "ua": m.get("ua"), "wa": m.get("wa"), "protocol": m.get("protocol_label"),
            "evaluations": [{k: e.get(k) for k in ("protocol_label", "ua", "ua_std", "fold_names")}
                            for e in m.get("evaluations", [])],
            "adaptation": self.bundle.adaptation, "transductive": self.transductive,
            "name": self.bundle.path.name, "path": str(self.bundle.path), "card": self.bundle.card,
            "licence": licence_summary(c.corpora),
        }

    # -- normalisation and adaptation -----------------------------------------------------------------
    def _normalise(self, X: np.ndarray, *, one_speaker_batch: bool) -> np.ndarray:
        from serkit.experiment import Normalization
        from serkit.normalization import Stats

        norm = self.config.normalize
        if norm is Normalization.CORPUS:
            return (self.bundle.stats.get("adapted") or self.bundle.stats["pooled"]).apply(X)
        if norm is Normalization.SPEAKER:
            if not one_speaker_batch or len(X) < MIN_SPEAKER_FILES:
                raise SerkitError(
                    f"this model normalises features per speaker: predict at least {MIN_SPEAKER_FILES} recordings of "
                    "one speaker together (serkit predict FOLDER), or use a model trained without --normalize speaker"
                )
            return Stats.of(X).apply(X)
        return X

    def adapt(self, paths: Iterable[str | Path], *, progress: bool = False, workers: int | None = None,
              executor: Any = None) -> "Predictor":
        """A Predictor for the domain of these recordings: the same model, with every input z-scored by the
        feature statistics of these unlabelled files (no label, name or folder layout is read)."""
        import datetime

        from serkit.experiment import Normalization
        from serkit.features import extract_features
        from serkit.features.assemble import assemble
        from serkit.normalization import MIN_ADAPT_FILES, Stats

        if self.config.normalize is not Normalization.CORPUS:
            raise SerkitError(
                f"{self.bundle.path}: this model was trained with --normalize {self.config.normalize.value}; only a "
                "model trained with --normalize corpus can be adapted (serkit train ... --normalize corpus)")
        files = expand_paths(paths)
        if len(files) < MIN_ADAPT_FILES:
            raise SerkitError(f"adaptation needs at least {MIN_ADAPT_FILES} recordings; got {len(files)} audio "
                              f"file(s) in {' '.join(map(str, paths))}")
        res = extract_features(files, self.extractors, cache=None, workers=workers, executor=executor,
                               progress=progress, desc="adapt")
        ok = [i for i in range(len(files)) if i not in res.failed]
        if len(ok) < MIN_ADAPT_FILES:
            reasons = "; ".join(f"{files[i]}: {r}" for i, r in list(res.failed.items())[:2])
            raise SerkitError(f"adaptation needs at least {MIN_ADAPT_FILES} usable recordings; {len(ok)} of "
                              f"{len(files)} could be read (e.g. {reasons})")
        X = assemble(self.config.spec.input, [res.stacked(ex.name, ok) for ex in self.extractors])
        seconds = sum(audio.info(files[i]).duration for i in ok)
        adapted = Predictor(dataclasses.replace(
            self.bundle, stats={**self.bundle.stats, "adapted": Stats.of(X)},
            adaptation={"files": len(ok), "hours": round(seconds / 3600, 4), "skipped": len(files) - len(ok),
                        "date": datetime.date.today().isoformat(),
                        "from": self.bundle.adaptation and self.bundle.adaptation.get("from") or self.bundle.path.name}),
            min_confidence=self.min_confidence)
        adapted.extractors = self.extractors  # the same extractors (and ONNX sessions), already loaded
        return adapted

    def save_adapted(self, output: str | Path) -> Path:
        """Write this adapted Predictor as a new bundle: the original's files plus the adaptation statistics."""
        from serkit.bundle import ADAPTATION_FILE, STATS_FILE, check_output, is_bundle_entry, write_bundle_folder
        from serkit.io import atomic_write_text
        from serkit.normalization import save_stats
        from serkit.reports import model_card

        if self.bundle.adaptation is None:
            raise SerkitError("this model is not adapted; call adapt(paths) first")
        out = Path(output)
        if out.resolve() == self.bundle.path.resolve():
            raise SerkitError(f"{out}: is the model being adapted; choose a new --output")
        check_output(out)
        src = self.bundle.path
        cfg = self.config
        card = model_card(title=f"{cfg.model} on {cfg.experiment.feature_spec()}", config=cfg.experiment,
                          labels=self.labels, corpora=list(cfg.corpora), n_files=cfg.n_files,
                          metrics=self.bundle.metrics,
                          notes=[n for ex in self.extractors for n in ex.card_notes()],
                          adaptation=self.bundle.adaptation)

        def fill(tmp: Path) -> None:
            import shutil

            for f in src.iterdir():
                if f.name in (STATS_FILE, ADAPTATION_FILE, "card.md") or not is_bundle_entry(f):
                    continue  # the user's own files in the source bundle stay there
                (shutil.copytree if f.is_dir() else shutil.copy2)(f, tmp / f.name)
            (tmp / STATS_FILE).write_bytes(save_stats(self.bundle.stats))
            atomic_write_text(tmp / ADAPTATION_FILE, json.dumps(self.bundle.adaptation, indent=2))
            atomic_write_text(tmp / "card.md", card)

        return write_bundle_folder(out, fill)

    # -- core ----------------------------------------------------------------------
    def _features(self, signal: np.ndarray) -> list[np.ndarray]:
        return [ex.extract(signal) for ex in self.extractors]

    def _proba(self, rows: Sequence[list[np.ndarray]], *, one_speaker_batch: bool = False) -> np.ndarray:
        from serkit.features.assemble import assemble

        parts = [np.stack([r[i] for r in rows]) for i in range(len(self.extractors))]
        X = self._normalise(assemble(self.config.spec.input, parts), one_speaker_batch=one_speaker_batch)
        if self._onnx is not None:
            return self._onnx.predict_proba(X)
        return np.asarray(self.bundle.estimator.predict_proba(X), dtype=np.float64)

    def _result(self, path: str | None, proba: np.ndarray, *, duration: float | None = None,
                segments: tuple[Segment, ...] | None = None) -> Prediction:
        probs = {c: float(p) for c, p in zip(self.labels, proba, strict=True)}
        k = int(np.argmax(proba))
        conf = float(proba[k])
        label = self.labels[k] if conf >= self.min_confidence else UNCERTAIN
        return Prediction(path, label, conf, probs, segments, None, duration)

    def predict_signal(self, signal: np.ndarray, sample_rate: int = audio.SAMPLE_RATE, *,
                       name: str | None = None, segment: bool | None = None) -> Prediction:
        signal = np.asarray(signal, dtype=np.float32)
        if signal.ndim == 2:
            signal = audio.to_mono(signal if signal.shape[0] > signal.shape[1] else signal.T)
        signal = audio.resample(signal, int(sample_rate))
        audio.validate(signal, audio.SAMPLE_RATE, name=name or "<signal>")
        duration = len(signal) / audio.SAMPLE_RATE
        if segment or (segment is None and duration > LONG_AUDIO_SECONDS):
            return self._predict_stream(name, [signal])
        return self._result(name, self._proba([self._features(signal)])[0], duration=duration)

    def predict_bytes(self, data: bytes, *, name: str = "<upload>", segment: bool | None = None,
                      max_duration: float | None = MAX_UPLOAD_SECONDS) -> Prediction:
        """For uploads: bounded by duration (from the header) before anything is decoded."""
        return self.predict_signal(audio.load(data, name=name, max_duration=max_duration), name=name, segment=segment)

    def predict_file(self, path: str | Path, *, segment: bool | None = None) -> Prediction:
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

    def decide(self, probabilities: np.ndarray | Sequence[float], *, path: str | None = None) -> Prediction:
        """A Prediction from class probabilities in label order: the top class, or `uncertain` below
        --min-confidence (for probabilities pooled outside the Predictor, e.g. a live stream's smoothing)."""
        return self._result(path, np.asarray(probabilities, dtype=np.float64))

    def predict_files(self, paths: Iterable[str | Path], *, progress: bool = False, segment: bool | None = None,
                      batch_size: int = 32, workers: int | None = None, executor: Any = None) -> list[Prediction]:
        """Every file's Prediction, in the order of `paths` (folders and globs expanded); a file that cannot
        be read is an error entry and the rest are still predicted.

        Batches of files run on `executor` (any concurrent.futures.Executor, or a dask.distributed Client:
        its workers read the files by path and load this model once each), or else on the local pool of
        `workers` processes (by default one per core for 16 files or more; an ONNX model runs in this process).
        """
        files = expand_paths(paths)
        results: list[Prediction | None] = [None] * len(files)
        for i, prediction in self._predictions(files, progress=progress, segment=segment, batch_size=batch_size,
                                                workers=workers, executor=executor):
            results[i] = prediction
        return [r for r in results if r is not None]

    def iter_predictions(self, paths: Iterable[str | Path], *, progress: bool = False, segment: bool | None = None,
                         batch_size: int = 32, workers: int | None = None, executor: Any = None
                         ) -> Iterator[Prediction]:
        """Like predict_files, but each Prediction as soon as its batch is done (so not in input order): a
        caller that writes them out holds none of them, however many files."""
        for _, prediction in self._predictions(expand_paths(paths), progress=progress, segment=segment,
                                                batch_size=batch_size, workers=workers, executor=executor):
            yield prediction

    def _predictions(self, files: list[str], *, progress: bool, segment: bool | None, batch_size: int,
                     workers: int | None, executor: Any) -> Iterator[tuple[int, Prediction]]:
        """(position in files, Prediction) as batches complete, on one executor whatever runs them."""
        from tqdm.auto import tqdm

        from serkit.experiment import Normalization, check_range
        from serkit.features.extract import default_workers
        from serkit.parallel import InlineExecutor, as_executor, local_executor, run_batches

        check_range("batch_size", batch_size, 1, 100_000)
        if not files:
            return
        if executor is not None:
            pool, n_workers = as_executor(executor)
        else:
            n_workers = workers if workers is not None else (default_workers() if len(files) >= 16 else 1)
            if self._onnx is not None:
                n_workers = 1  # onnxruntime in this process starts at once; workers would each load the model
            pool = local_executor(n_workers) if n_workers > 1 else InlineExecutor()
        if self.config.normalize is Normalization.SPEAKER:
            size = len(files)  # one batch: the statistics of a speaker-normalised model are the whole batch's
        else:
            size = max(1, min(batch_size, len(files) // (4 * n_workers)))
        batches = [list(range(k, min(k + size, len(files)))) for k in range(0, len(files), size)]
        payloads = [[files[i] for i in b] for b in batches]
        if isinstance(pool, InlineExecutor):
            fn, args = self._predict_batch, (segment,)
        else:
            fn, args = _predict_on_worker, (self._worker_spec(), segment)
        with tqdm(total=len(files), desc="predict", unit="file", disable=not progress, leave=False,
                  dynamic_ncols=True) as bar:
            for k, predictions in run_batches(fn, payloads, executor=pool, args=args, lost=_lost_file):
                yield from zip(batches[k], predictions, strict=True)
                bar.update(len(predictions))

    def _predict_batch(self, files: Sequence[str], segment: bool | None) -> list[Prediction]:
        """One batch: long files segmented one by one, the short ones in one model call; a file that cannot
        be used is an error entry, never a failed batch."""
        out: dict[int, Prediction] = {}
        rows, short, durations = [], [], []
        for i, f in enumerate(files):
            try:
                info = audio.info(f)
                if segment or (segment is None and info.duration > LONG_AUDIO_SECONDS):
                    out[i] = self.predict_file(f, segment=True)
                    continue
                rows.append(self._features(audio.load(f)))
            except SerkitError as exc:
                out[i] = Prediction(f, None, None, None, error=str(exc))
                continue
            short.append(i)
            durations.append(info.duration)
        if rows:
            for i, proba, d in zip(short, self._proba(rows, one_speaker_batch=True), durations, strict=True):
                out[i] = self._result(files[i], proba, duration=d)
        return [out[i] for i in range(len(files))]

    def _worker_spec(self) -> "_WorkerSpec":
        """What a worker process rebuilds this Predictor from: the bundle by path, plus the statistics this
        one normalises with (which `adapt` may have replaced in memory), as bytes so equal specs hash alike."""
        stats = tuple((name, st.mean.shape, st.mean.dtype.str, st.mean.tobytes(), st.std.dtype.str, st.std.tobytes(),
                       int(st.n)) for name, st in self.bundle.stats.items())
        backend = Backend.ONNX if self._onnx is not None else Backend.NATIVE
        return _WorkerSpec(str(self.bundle.path.resolve()), backend.value, float(self.min_confidence), stats)


@dataclasses.dataclass(frozen=True)
class _WorkerSpec:
    path: str
    backend: str
    min_confidence: float
    stats: tuple[tuple[str, tuple[int, ...], str, bytes, str, bytes, int], ...]  # name, shape, mean, std, n


@lru_cache(maxsize=4)
def _worker_predictor(spec: _WorkerSpec) -> Predictor:
    """One Predictor per worker process and bundle, loaded on its first batch and reused for every later one."""
    from serkit.features.extract import limit_threads
    from serkit.normalization import Stats

    limit_threads()
    predictor = Predictor.load(spec.path, min_confidence=spec.min_confidence, backend=spec.backend)
    stats = {name: Stats(np.frombuffer(mean, mean_type).reshape(shape).copy(),
                         np.frombuffer(std, std_type).reshape(shape).copy(), n)
             for name, shape, mean_type, mean, std_type, std, n in spec.stats}
    predictor.bundle = dataclasses.replace(predictor.bundle, stats=stats)
    return predictor


def _predict_on_worker(files: list[str], spec: _WorkerSpec, segment: bool | None) -> list[Prediction]:
    return _worker_predictor(spec)._predict_batch(files, segment)


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
        proba = p._proba([p._features(samples)])[0]
        r = p._result(None, proba)
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
        return self.predictor._result(self.name, self.weighted / self.total, duration=self.seen / audio.SAMPLE_RATE,
                                      segments=tuple(self.segments))
