"""The one audio loader: formats, content sniffing, downmix, resampling, validation, streaming."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile as sf

import fixtures as fx
from serkit import audio
from serkit.errors import AudioError

REAL_CLIPS = [
    fx.RAVDESS_ROOT / "Actor_01" / "03-01-05-02-01-01-01.flac",
    fx.SAVEE_ROOT / "DC_a01.flac",
]
FORMATS = ["wav", "flac", "ogg", "aiff"] + (["mp3"] if "MP3" in sf.available_formats() else [])


def peak_hz(x: np.ndarray, sr: int = audio.SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec)) * sr / len(x)


def expect_error(path, *words):
    with pytest.raises(AudioError) as exc:
        audio.load(path)
    msg = str(exc.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    assert exc.value.path == str(path)
    return exc.value


# --------------------------------------------------------------------------- real clips


@pytest.mark.parametrize("clip", REAL_CLIPS, ids=lambda p: p.name)
def test_real_flac(clip):
    if not clip.is_file():
        pytest.skip(f"{clip} not available")
    x = audio.load(clip)
    ref, sr = sf.read(str(clip), dtype="float32")
    assert sr == audio.SAMPLE_RATE
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == len(ref)
    assert np.allclose(x, ref if ref.ndim == 1 else ref.mean(axis=1), atol=1e-6)
    i = audio.info(clip)
    assert (i.sample_rate, i.channels, i.frames) == (16_000, 1, len(x))
    assert 1.0 < i.duration < 8.0
    # the same file as bytes and as an open file object
    data = clip.read_bytes()
    assert np.array_equal(audio.load(data), x)
    with clip.open("rb") as fh:
        assert np.array_equal(audio.load(fh), x)


# --------------------------------------------------------------------------- formats, channels, rates


@pytest.mark.parametrize("ext", FORMATS)
def test_formats_decode_to_16k_float32(tmp_path, ext):
    path = fx.write(tmp_path / f"tone.{ext}", fx.tone(440.0, 1.0, 44_100), 44_100)
    x = audio.load(path)
    assert x.dtype == np.float32 and x.ndim == 1
    tolerance = 2000 if ext == "mp3" else 0  # mp3 may carry encoder padding
    assert abs(len(x) - 16_000) <= tolerance
    assert peak_hz(x) == pytest.approx(440.0, abs=2.0)
    assert np.max(np.abs(x)) == pytest.approx(0.3, abs=0.03)


def test_upper_case_extension(tmp_path):
    path = fx.write(tmp_path / "TONE.FLAC", fx.tone(440.0, 0.5, 16_000), 16_000)
    assert len(audio.load(path)) == 8000
    assert audio.is_audio_name(path) and not audio.is_audio_name(tmp_path / "notes.lab")


def test_aiff_content_under_wav_name(tmp_path):
    data = fx.synth(0.5, 16_000, seed=3)
    path = fx.write(tmp_path / "quirk.wav", data, 16_000, format="AIFF")
    assert path.read_bytes()[:4] == b"FORM"  # really AIFF inside
    x = audio.load(path)
    assert len(x) == len(data)
    assert np.allclose(x, data, atol=1e-4)


def test_stereo_is_averaged_to_mono(tmp_path):
    left = fx.tone(440.0, 0.5, 16_000)
    right = fx.synth(0.5, 16_000, seed=4, partials=(1000.0,))
    path = fx.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 16_000)
    assert audio.info(path).channels == 2
    x = audio.load(path)
    assert x.ndim == 1 and x.dtype == np.float32
    assert np.allclose(x, (left + right) / 2, atol=1e-4)


@pytest.mark.parametrize("sr", [8_000, 22_050, 44_100, 48_000, 96_000])
def test_resampling_keeps_frequency_and_duration(tmp_path, sr):
    path = fx.write(tmp_path / f"tone{sr}.wav", fx.tone(440.0, 1.0, sr, channels=2), sr)
    assert audio.info(path).sample_rate == sr
    x = audio.load(path)
    assert x.dtype == np.float32
    assert abs(len(x) - 16_000) <= 2
    assert peak_hz(x) == pytest.approx(440.0, abs=2.0)
    assert np.max(np.abs(x[800:-800])) == pytest.approx(0.3, abs=0.01)
    # and to another target rate
    assert abs(len(audio.load(path, sample_rate=8_000)) - 8_000) <= 2


def test_info_reads_the_header_only(tmp_path):
    path = fx.write_clip(tmp_path / "s.wav", sample_rate=48_000, seconds=0.75, channels=2)
    i = audio.info(path)
    assert (i.sample_rate, i.frames, i.channels) == (48_000, 36_000, 2)
    assert i.duration == pytest.approx(0.75)


def test_load_from_bytes_and_file_object(tmp_path):
    data = fx.tone(440.0, 1.0, 22_050)
    raw = fx.wav_bytes(data, 22_050)
    x = audio.load(raw)
    assert x.dtype == np.float32 and abs(len(x) - 16_000) <= 2
    assert peak_hz(x) == pytest.approx(440.0, abs=2.0)
    assert np.array_equal(audio.load(io.BytesIO(raw)), x)
    assert audio.info(raw).sample_rate == 22_050
    with pytest.raises(AudioError, match="upload.wav: empty"):
        audio.load(b"", name="upload.wav")
    with pytest.raises(AudioError, match="upload.wav: unreadable"):
        audio.load(b"definitely not audio" * 10, name="upload.wav")


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.wav", "not found")


def test_folder_is_not_a_file(tmp_path):
    expect_error(tmp_path, "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    expect_error(path, "empty")
    with pytest.raises(AudioError, match="empty"):
        audio.info(path)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("this is not audio, just a text file\n" * 5)
    expect_error(path, "not a recognised audio format")


def test_truncated_header(tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(fx.truncated_header())
    expect_error(path, "unreadable audio")


def test_header_without_data(tmp_path):
    path = tmp_path / "header_only.wav"
    path.write_bytes(fx.header_only())
    expect_error(path, "no samples")


def test_silence_rejected_quiet_speech_kept(tmp_path):
    zeros = fx.write(tmp_path / "zeros.wav", np.zeros(8000, np.float32), 16_000)
    expect_error(zeros, "silent")
    quiet = fx.write(tmp_path / "quiet.wav", fx.tone(440.0, 0.5, 16_000, amplitude=10 ** (-70 / 20)), 16_000, subtype="FLOAT")
    err = expect_error(quiet, "silent", "-70")
    assert "-60" in err.problem
    soft = fx.write(tmp_path / "soft.wav", fx.tone(440.0, 0.5, 16_000, amplitude=10 ** (-50 / 20)), 16_000, subtype="FLOAT")
    assert len(audio.load(soft)) == 8000
    assert len(audio.load(zeros, check=False)) == 8000


def test_too_short(tmp_path):
    path = fx.write_clip(tmp_path / "short.wav", seconds=0.1)
    expect_error(path, "too short", "0.100")
    assert len(audio.load(path, check=False)) == 1600
    assert len(audio.load(path, min_duration=0.05)) == 1600


def test_validate_rejects_non_finite():
    x = fx.tone(440.0, 0.5, 16_000)
    x[100] = np.nan
    with pytest.raises(AudioError, match="clip.wav: contains NaN"):
        audio.validate(x, 16_000, name="clip.wav")
    with pytest.raises(AudioError, match="no samples"):
        audio.validate(np.zeros(0, np.float32), 16_000)


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("channels", [1, 2])
def test_iter_blocks_matches_load(tmp_path, channels):
    sr = 48_000
    path = fx.write(tmp_path / "long.wav", fx.synth(23.7, sr, channels=channels, seed=5), sr)
    full = audio.load(path, check=False)
    blocks = list(audio.iter_blocks(path, block_seconds=5.0))
    assert len(blocks) >= 5
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert max(len(b) for b in blocks) <= 5.0 * 16_000 + 1000  # bounded by the block size
    joined = np.concatenate(blocks)
    assert abs(len(joined) - len(full)) <= 4
    n = min(len(joined), len(full))
    assert np.max(np.abs(joined[:n] - full[:n])) < 1e-3
    assert abs(len(joined) - round(23.7 * 16_000)) <= 4


def test_iter_blocks_at_target_rate_exact_multiple(tmp_path):
    data = fx.synth(10.0, 16_000, seed=6)
    path = fx.write(tmp_path / "ten.wav", data, 16_000)
    blocks = list(audio.iter_blocks(path, block_seconds=2.5))
    assert [len(b) for b in blocks] == [40_000] * 4
    assert np.array_equal(np.concatenate(blocks), audio.load(path, check=False))


def test_iter_blocks_errors_name_the_file(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("not audio\n" * 20)
    with pytest.raises(AudioError, match=re.escape(str(path))):
        next(audio.iter_blocks(path))
