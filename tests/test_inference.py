"""Prediction with the bundled default model: files, signals at other rates, long recordings
segmented on speech, batches with failures, thresholds, path expansion and corrupt bundles."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

import fixtures as fx
from serkit import audio
from serkit.errors import AudioError, BundleError
from serkit.inference import UNCERTAIN, Prediction, Predictor, default_model_path, expand_paths
from serkit.segment import SegmentConfig, segments

# RAVDESS Actor_02, strong intensity, statement 01: angry, sad, happy (~3.5-3.9 s each).
CLIP = fx.RAVDESS_ROOT / "Actor_02" / "03-01-05-02-01-01-02.flac"
LONG_CLIPS = [fx.RAVDESS_ROOT / "Actor_02" / f"03-01-{code}-02-01-01-02.flac" for code in ("05", "04", "03")]
# RAVDESS Actor_01, angry, normal intensity: the default model is less sure of it than of CLIP.
LOW_CLIP = fx.RAVDESS_ROOT / "Actor_01" / "03-01-05-01-01-01-01.flac"
GAP = 2.0  # seconds of near-silence between the clips (and 1 s before, 2 s after)


def near_silence(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """White noise at -70 dBFS RMS: a quiet room, not digital zero."""
    return (rng.standard_normal(int(round(seconds * 16_000))) * 10 ** (-70 / 20)).astype(np.float32)


def trim_to_speech(signal: np.ndarray, threshold_db: float = -50.0) -> np.ndarray:
    """Cut a clip to its first..last 20 ms frame above threshold_db (drops the room noise around it)."""
    n = len(signal) // 320
    db = 10 * np.log10(np.mean(signal[: n * 320].reshape(n, 320) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(db > threshold_db)
    return signal[loud[0] * 320 : (loud[-1] + 1) * 320]


@pytest.fixture(scope="module")
def predictor(shared_data) -> Predictor:
    return Predictor.load()


@pytest.fixture(scope="module")
def clip_prediction(predictor) -> Prediction:
    return predictor.predict_file(CLIP)


@pytest.fixture(scope="module")
def long_recording(shared_data, tmp_path_factory):
    """(signal, path of its FLAC, [(start, end)] of the three clips in it)."""
    rng = np.random.default_rng(0)
    parts, spans, t = [near_silence(1.0, rng)], [], 1.0
    for f in LONG_CLIPS:
        clip = trim_to_speech(audio.load(f))
        spans.append((t, t + len(clip) / 16_000))
        parts += [clip, near_silence(GAP, rng)]
        t += len(clip) / 16_000 + GAP
    signal = np.concatenate(parts)
    path = tmp_path_factory.mktemp("long") / "three_clips.flac"
    sf.write(str(path), signal, 16_000, format="FLAC", subtype="PCM_16")
    return signal, path, spans


def check_probabilities(pred: Prediction, labels: list[str]) -> None:
    assert pred.ok and pred.error is None
    assert list(pred.probabilities) == labels
    probs = np.array(list(pred.probabilities.values()))
    assert np.all(probs >= 0)
    assert abs(probs.sum() - 1.0) <= 1e-6
    assert pred.confidence == pytest.approx(probs.max(), abs=1e-12)
    assert pred.label == labels[int(np.argmax(probs))]


# --------------------------------------------------------------------------- one clip


def test_default_model_predicts_a_real_clip(predictor, clip_prediction):
    assert (default_model_path() / "config.json").is_file()
    assert predictor.labels == ["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"]
    p = clip_prediction
    assert p.path == str(CLIP)
    assert p.label in predictor.labels
    check_probabilities(p, predictor.labels)
    assert p.segments is None
    assert p.duration == pytest.approx(sf.info(str(CLIP)).duration, abs=1e-3)


def test_the_same_audio_at_48_khz_gives_nearly_the_same_probabilities(predictor, clip_prediction):
    import soxr

    signal = audio.load(CLIP)
    at48 = soxr.resample(signal, 16_000, 48_000, quality="HQ").astype(np.float32)
    assert len(at48) == pytest.approx(3 * len(signal), abs=3)
    p48 = predictor.predict_signal(at48, 48_000, name="clip@48k")
    check_probabilities(p48, predictor.labels)
    diff = max(abs(p48.probabilities[c] - clip_prediction.probabilities[c]) for c in predictor.labels)
    assert diff < 0.05
    assert p48.duration == pytest.approx(clip_prediction.duration, abs=1e-3)
    # Stereo at 48 kHz (channels last) downmixes to the same thing.
    stereo = predictor.predict_signal(np.stack([at48, at48], axis=1), 48_000)
    assert max(abs(stereo.probabilities[c] - p48.probabilities[c]) for c in predictor.labels) < 1e-4


def test_min_confidence_turns_low_confidence_labels_into_uncertain(predictor, clip_prediction):
    base = predictor.predict_file(LOW_CLIP)
    # A threshold between the two clips' confidences (whatever the shipped model's exact figures are).
    assert clip_prediction.confidence - base.confidence > 0.1, "pick two clips the model is unequally sure about"
    threshold = (base.confidence + clip_prediction.confidence) / 2
    strict = Predictor.load(min_confidence=threshold)  # the default model, as `predictor` loaded it
    low = strict.predict_file(LOW_CLIP)
    assert low.label == UNCERTAIN
    assert low.confidence == pytest.approx(base.confidence, abs=1e-9)
    assert low.probabilities == pytest.approx(base.probabilities, abs=1e-9)
    assert low.to_dict()["label"] == UNCERTAIN
    sure = strict.predict_file(CLIP)  # above the threshold: keeps its label
    assert sure.label == clip_prediction.label != UNCERTAIN
    just_below = Predictor.load(min_confidence=base.confidence - 1e-6).predict_file(LOW_CLIP)
    assert just_below.label == base.label != UNCERTAIN


def test_segment_true_on_a_short_clip_gives_one_segment(predictor, clip_prediction):
    p = predictor.predict_file(CLIP, segment=True)
    assert p.segments is not None and len(p.segments) == 1
    (s,) = p.segments
    assert 0.0 <= s.start < s.end <= clip_prediction.duration + 1e-6
    assert s.end - s.start > 1.0
    check_probabilities(p, predictor.labels)
    assert p.probabilities == pytest.approx(s.probabilities, abs=1e-9)  # one segment: its own probabilities
    assert p.to_dict()["segments"][0]["label"] == s.label


def test_silence_is_an_audio_error(predictor, tmp_path):
    with pytest.raises(AudioError, match="silent"):
        predictor.predict_signal(np.zeros(32_000, dtype=np.float32))
    silent = fx.write(tmp_path / "silent.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    with pytest.raises(AudioError, match="silent"):
        predictor.predict_file(silent)
    # Long near-silence passes the peak check but has no speech in it.
    quiet = tmp_path / "room.flac"
    sf.write(str(quiet), near_silence(12.0, np.random.default_rng(1)), 16_000, format="FLAC")
    with pytest.raises(AudioError, match="no speech"):
        predictor.predict_file(quiet)


# --------------------------------------------------------------------------- long recordings


def test_a_long_recording_is_segmented_at_the_clips(predictor, long_recording):
    signal, path, spans = long_recording
    assert sf.info(str(path)).duration > 10.0
    p = predictor.predict_file(path)  # > 10 s: segmented without being asked
    assert p.segments is not None and len(p.segments) == 3
    for seg, (start, end) in zip(p.segments, spans, strict=True):
        assert abs(seg.start - start) <= 0.3, (seg, start)
        assert abs(seg.end - end) <= 0.3, (seg, end)
        assert seg.label in predictor.labels
        assert sum(seg.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert seg.confidence == pytest.approx(max(seg.probabilities.values()))
    # Overall: the duration-weighted mean of the segments' probabilities.
    weights = np.array([s.end - s.start for s in p.segments])
    seg_probs = np.array([[s.probabilities[c] for c in predictor.labels] for s in p.segments])
    expected = weights @ seg_probs / weights.sum()
    got = np.array([p.probabilities[c] for c in predictor.labels])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    check_probabilities(p, predictor.labels)
    assert not np.allclose(got, seg_probs.mean(axis=0), atol=1e-6), "weights had no effect"
    d = p.to_dict()
    assert set(d) == {"path", "label", "confidence", "probabilities", "duration", "segments"}
    assert [s["start"] for s in d["segments"]] == [round(s.start, 3) for s in p.segments]
    assert set(d["segments"][0]) == {"start", "end", "label", "confidence", "probabilities"}
    json.dumps(d)
    # The same signal in memory takes the same path.
    q = predictor.predict_signal(signal, 16_000, name="mem")
    assert np.allclose([(s.start, s.end) for s in q.segments], [(s.start, s.end) for s in p.segments], atol=0.02)


def _bounds(signal: np.ndarray, block_seconds: float, cfg: SegmentConfig = SegmentConfig()) -> list[tuple[float, float]]:
    b = int(block_seconds * 16_000)
    return [(s, e) for s, e, _ in segments((signal[k : k + b] for k in range(0, len(signal), b)), cfg)]


@pytest.mark.parametrize("cfg", [SegmentConfig(), SegmentConfig(analysis_seconds=4.0)], ids=["default", "4s-windows"])
def test_segment_boundaries_do_not_depend_on_the_block_size(long_recording, cfg):
    signal, _, spans = long_recording
    whole = _bounds(signal, 1e6, cfg)
    assert len(whole) == 3
    for block_seconds in (1.0, 7.0, 0.33):
        got = _bounds(signal, block_seconds, cfg)
        assert len(got) == len(whole), block_seconds
        for (s1, e1), (s2, e2) in zip(got, whole, strict=True):
            assert abs(s1 - s2) <= 0.02 + 1e-9 and abs(e1 - e2) <= 0.02 + 1e-9, (block_seconds, got, whole)
    # The samples yielded are the signal's own, at the reported position.
    for start, end, samples in segments([signal], cfg):
        k = int(round(start * 16_000))
        assert len(samples) == int(round((end - start) * 16_000))
        assert np.array_equal(samples, signal[k : k + len(samples)])


# --------------------------------------------------------------------------- many files


def test_expand_paths_folder_glob_and_plain_file(tmp_path):
    root = tmp_path / "in"
    wanted = [root / "a.wav", root / "sub" / "b.FLAC", root / "sub" / "deeper" / "c.ogg"]
    for f in wanted:
        fx.write_clip(f)
    (root / "notes.txt").write_text("not audio")
    (root / "sub" / "d.wav.bak").write_text("not audio either")
    (root / "folder.wav").mkdir()  # a folder with an audio name is not a file
    assert expand_paths([root]) == sorted(str(f) for f in wanted)
    assert expand_paths([str(root / "**" / "*.wav")]) == [str(root / "a.wav")]
    assert expand_paths([str(root / "sub" / "*")]) == sorted(
        [str(root / "sub" / "b.FLAC"), str(root / "sub" / "d.wav.bak")])
    plain = root / "a.wav"
    missing = root / "missing.wav"
    assert expand_paths([plain]) == [str(plain)]
    assert expand_paths([missing]) == [str(missing)]  # left to the caller to report
    assert expand_paths([plain, root / "sub", missing]) == [
        str(plain), str(root / "sub" / "b.FLAC"), str(root / "sub" / "deeper" / "c.ogg"), str(missing)]
    assert expand_paths([str(root / "*.nothing")]) == []


def test_predict_files_reports_failures_in_order_and_predicts_the_rest(predictor, clip_prediction, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 10)
    silent = fx.write(tmp_path / "silent.wav", np.zeros(16_000, dtype=np.float32), 16_000)
    other = LONG_CLIPS[1]
    files = [CLIP, tmp_path / "missing.wav", text, other, silent]
    out = predictor.predict_files(files, workers=1)
    assert [r.path for r in out] == [str(f) for f in files]
    ok = [r.ok for r in out]
    assert ok == [True, False, False, True, False]
    assert "file not found" in out[1].error and str(files[1]) in out[1].error
    assert "unreadable audio" in out[2].error and str(text) in out[2].error
    assert "silent" in out[4].error and str(silent) in out[4].error
    for r in (out[1], out[2], out[4]):
        assert r.label is None and r.confidence is None and r.probabilities is None
        d = r.to_dict()
        assert set(d) == {"path", "label", "confidence", "probabilities", "error"}
        assert d["error"] == r.error and d["label"] is None
    check_probabilities(out[0], predictor.labels)
    check_probabilities(out[3], predictor.labels)
    # Batched prediction agrees with one file at a time.
    assert out[0].probabilities == pytest.approx(clip_prediction.probabilities, abs=1e-5)
    assert out[0].probabilities != pytest.approx(out[3].probabilities, abs=1e-3)
    d = out[0].to_dict()
    check_short_keys(d)
    assert d["path"] == str(CLIP) and d["label"] == out[0].label
    assert d["confidence"] == pytest.approx(out[0].confidence, abs=1e-6)
    assert sum(d["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    json.dumps([r.to_dict() for r in out])


BASE_KEYS = {"path", "label", "confidence", "probabilities"}


def check_short_keys(d: dict) -> None:
    """A short file: the four keys (a duration may come with them), no segments, no error."""
    assert BASE_KEYS <= set(d)
    assert set(d) - BASE_KEYS <= {"duration"}


def test_prediction_to_dict_keys(clip_prediction):
    d = clip_prediction.to_dict()
    check_short_keys(d)
    assert d["path"] == str(CLIP)
    assert d["confidence"] == pytest.approx(clip_prediction.confidence, abs=1e-6)
    assert d["label"] == clip_prediction.label
    assert list(d["probabilities"]) == list(clip_prediction.probabilities)


# --------------------------------------------------------------------------- bundles


def test_a_corrupt_bundle_raises_bundle_error(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(default_model_path(), bundle, ignore=shutil.ignore_patterns("evaluation"))
    assert Predictor.load(bundle).labels  # the copy itself loads
    (bundle / "config.json").write_text("{ this is not json")
    with pytest.raises(BundleError, match="config.json"):
        Predictor.load(bundle)
    (bundle / "config.json").write_text(json.dumps({"format": 2, "model": "logreg"}))  # valid JSON, missing fields
    with pytest.raises(BundleError, match="config.json"):
        Predictor.load(bundle)
    (bundle / "config.json").write_text(json.dumps({"model": "logreg"}))  # no format: written by serkit 0.1
    with pytest.raises(BundleError, match="bundle format 1"):
        Predictor.load(bundle)
    (bundle / "config.json").unlink()
    with pytest.raises(BundleError, match="config.json missing"):
        Predictor.load(bundle)
    with pytest.raises(BundleError, match="not found"):
        Predictor.load(tmp_path / "nowhere")
