"""The one audio loader: formats, content sniffing, downmix, resampling, validation, streaming."""

from __future__ import annotations

import io
import re
import struct
import time

import numpy as np
import pytest
import soundfile as sf

import fixtures as fx
from serkit import audio
from serkit.errors import AudioError, AudioProblem

REAL_CLIPS = [
    fx.RAVDESS_ROOT / "Actor_01" / "03-01-05-02-01-01-01.flac",
    fx.SAVEE_ROOT / "DC_a01.flac",
]
FORMATS = ["wav", "flac", "ogg", "aiff"] + (["mp3"] if "MP3" in sf.available_formats() else [])


def peak_hz(x: np.ndarray, sr: int = audio.SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec)) * sr / len(x)


def expect_error(path, *words, kind: AudioProblem):
    """load() refuses `path` with a message naming it and containing `words`, and says what kind of problem."""
    with pytest.raises(AudioError) as exc:
        audio.load(path)
    msg = str(exc.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    assert exc.value.path == str(path)
    assert exc.value.kind is kind, (exc.value.kind, msg)
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
    with pytest.raises(AudioError, match="upload.wav: empty") as err:
        audio.load(b"", name="upload.wav")
    assert err.value.kind is AudioProblem.EMPTY
    with pytest.raises(AudioError, match="upload.wav: unreadable") as err:
        audio.load(b"definitely not audio" * 10, name="upload.wav")
    assert err.value.kind is AudioProblem.UNRECOGNISED


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.wav", "not found", kind=AudioProblem.NOT_FOUND)


def test_folder_is_not_a_file(tmp_path):
    expect_error(tmp_path, "folder", kind=AudioProblem.NOT_FOUND)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    expect_error(path, "empty", kind=AudioProblem.EMPTY)
    with pytest.raises(AudioError, match="empty") as err:
        audio.info(path)
    assert err.value.kind is AudioProblem.EMPTY


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("this is not audio, just a text file\n" * 5)
    expect_error(path, "not a recognised audio format", kind=AudioProblem.UNRECOGNISED)


def test_truncated_header(tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(fx.truncated_header())
    expect_error(path, "unreadable audio", "truncated inside its header", kind=AudioProblem.TRUNCATED)


def test_header_without_data(tmp_path):
    path = tmp_path / "header_only.wav"
    path.write_bytes(fx.header_only())
    expect_error(path, "no samples", "promises 0.500 s", kind=AudioProblem.EMPTY)


def test_silence_rejected_quiet_speech_kept(tmp_path):
    zeros = fx.write(tmp_path / "zeros.wav", np.zeros(8000, np.float32), 16_000)
    expect_error(zeros, "silent", kind=AudioProblem.SILENT)
    quiet = fx.write(tmp_path / "quiet.wav", fx.tone(440.0, 0.5, 16_000, amplitude=10 ** (-70 / 20)), 16_000, subtype="FLOAT")
    err = expect_error(quiet, "silent", "-70", kind=AudioProblem.SILENT)
    assert "-60" in err.problem
    soft = fx.write(tmp_path / "soft.wav", fx.tone(440.0, 0.5, 16_000, amplitude=10 ** (-50 / 20)), 16_000, subtype="FLOAT")
    assert len(audio.load(soft)) == 8000
    assert len(audio.load(zeros, check=False)) == 8000


def test_too_short(tmp_path):
    path = fx.write_clip(tmp_path / "short.wav", seconds=0.1)
    expect_error(path, "too short", "0.100", kind=AudioProblem.TOO_SHORT)
    assert len(audio.load(path, check=False)) == 1600
    assert len(audio.load(path, min_duration=0.05)) == 1600


def test_validate_rejects_non_finite():
    x = fx.tone(440.0, 0.5, 16_000)
    x[100] = np.nan
    with pytest.raises(AudioError, match="clip.wav: contains NaN") as err:
        audio.validate(x, 16_000, name="clip.wav")
    assert err.value.kind is AudioProblem.INVALID_SAMPLES
    with pytest.raises(AudioError, match="no samples") as err:
        audio.validate(np.zeros(0, np.float32), 16_000)
    assert err.value.kind is AudioProblem.EMPTY


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
    with pytest.raises(AudioError, match=re.escape(str(path))) as err:
        next(audio.iter_blocks(path))
    assert err.value.kind is AudioProblem.UNRECOGNISED


# --------------------------------------------------------------------------- problem kinds


@pytest.mark.parametrize("case", list(fx.BAD_INPUTS))
def test_each_bad_input_yields_its_kind(tmp_path, case):
    path = fx.make_bad_inputs(tmp_path)[case]
    expected = fx.BAD_INPUTS[case][1]
    if expected is None:
        assert len(audio.load(path)) > 0
        return
    err = expect_error(path, kind=AudioProblem(expected))
    assert "\n" not in str(err)


def test_every_kind_the_loader_can_give_is_reached():
    """The server maps kinds to statuses by a table: each kind the loader raises has an input that gives it.
    NO_SPEECH comes from the predictor's speech segmentation, not from the loader."""
    reached = {AudioProblem(kind) for _, kind in fx.BAD_INPUTS.values() if kind is not None}
    reached |= {AudioProblem.CORRUPT, AudioProblem.TOO_LONG}  # test_a_corrupt_stream_is_corrupt, test_too_long_*
    assert reached == set(AudioProblem) - {AudioProblem.NO_SPEECH}


def test_a_corrupt_stream_is_corrupt(tmp_path):
    f = tmp_path / "scrambled.flac"
    raw = bytearray(fx.wav_bytes(fx.synth(3.0, seed=2), 16_000, format="FLAC"))
    raw[len(raw) // 2 : len(raw) // 2 + 2000] = b"\xff" * 2000
    f.write_bytes(bytes(raw))
    expect_error(f, "unreadable audio", kind=AudioProblem.CORRUPT)


# --------------------------------------------------------------------------- truncated files


def test_a_truncated_wav_is_refused_by_load_info_and_iter_blocks(tmp_path):
    """The first 20 kB of a 4 s clip: libsndfile sizes it by the bytes present and decodes 0.62 s 'fine'."""
    path = tmp_path / "cut.wav"
    path.write_bytes(fx.truncated_wav(4.0, 20_000))
    held = (20_000 - 44) / 2 / 16_000
    words = ("truncated", "promises 4.000 s", f"holds {held:.3f} s", f"({4.0 - held:.3f} s missing)")
    expect_error(path, *words, kind=AudioProblem.TRUNCATED)
    for call in (lambda: audio.info(path), lambda: next(audio.iter_blocks(path))):
        with pytest.raises(AudioError) as err:
            call()
        assert err.value.kind is AudioProblem.TRUNCATED and all(w in str(err.value) for w in words), err.value
    with pytest.raises(AudioError, match="truncated") as err:
        audio.load(path.read_bytes(), name="cut.wav")
    assert err.value.kind is AudioProblem.TRUNCATED


@pytest.mark.parametrize("subtype,channels", [("PCM_16", 2), ("PCM_24", 1), ("FLOAT", 2)])
def test_truncation_is_measured_in_seconds_for_any_sample_format(tmp_path, subtype, channels):
    buf = io.BytesIO()
    sf.write(buf, fx.synth(2.0, 22_050, channels=channels, seed=7), 22_050, format="WAV", subtype=subtype)
    raw = buf.getvalue()
    path = tmp_path / "cut.wav"
    path.write_bytes(raw[: len(raw) // 2])
    err = expect_error(path, "truncated", "promises 2.000 s", kind=AudioProblem.TRUNCATED)
    missing = float(re.search(r"\(([\d.e-]+) s missing\)", err.problem).group(1))
    assert missing == pytest.approx(1.0, abs=0.01)


def test_one_missing_sample_is_truncated_and_said_so(tmp_path):
    raw = fx.wav_bytes(fx.synth(1.0, seed=8), 16_000)
    path = tmp_path / "one.wav"
    path.write_bytes(raw[:-2])
    expect_error(path, "truncated", "(6.2e-05 s missing)", kind=AudioProblem.TRUNCATED)
    path.write_bytes(raw[:-1])  # half a sample: the decoder drops a partial frame, nothing to report
    assert len(audio.load(path)) == 16_000 - 1


def test_a_truncated_aiff_is_refused(tmp_path):
    raw = fx.wav_bytes(fx.synth(2.0, seed=9), 16_000, format="AIFF")
    path = tmp_path / "cut.aiff"
    path.write_bytes(raw[: len(raw) // 2])
    expect_error(path, "truncated", "promises 2.000 s", kind=AudioProblem.TRUNCATED)
    with pytest.raises(AudioError, match="truncated"):
        audio.info(path)


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
def test_a_truncated_mp3_is_refused_when_decoded(tmp_path):
    """MP3 headers only estimate the length: the shortfall is found by decoding (load and iter_blocks)."""
    raw = fx.wav_bytes(fx.synth(4.0, seed=10), 16_000, format="MP3")
    whole = tmp_path / "whole.mp3"
    whole.write_bytes(raw)
    assert abs(len(audio.load(whole)) - 64_000) <= 2304  # an intact MP3 is not "truncated" by its padding
    path = tmp_path / "cut.mp3"
    path.write_bytes(raw[: len(raw) // 2])
    expect_error(path, "truncated", "promises 4.000 s", "the decoder found", kind=AudioProblem.TRUNCATED)
    with pytest.raises(AudioError) as err:
        for _ in audio.iter_blocks(path, block_seconds=0.5):
            pass
    assert err.value.kind is AudioProblem.TRUNCATED


# --------------------------------------------------------------------------- unknown length (streaming writers)


@pytest.mark.parametrize("riff", [None, 0, 0xFFFFFFFF])
@pytest.mark.parametrize("data_size", [0, 0xFFFFFFFF])
def test_a_streamed_wav_of_unknown_length_decodes_whole(tmp_path, riff, data_size):
    data = fx.synth(1.5, seed=11)
    reference = audio.load(fx.wav_bytes(data, 16_000))
    path = tmp_path / "streamed.wav"
    path.write_bytes(fx.wav_with_sizes(data, riff=riff, data_size=data_size))
    assert np.array_equal(audio.load(path), reference)
    assert audio.info(path).frames == len(reference)
    assert np.array_equal(np.concatenate(list(audio.iter_blocks(path, block_seconds=0.4))), reference)
    with path.open("rb") as fh:
        assert np.array_equal(audio.load(fh), reference)


def test_an_empty_data_chunk_followed_by_chunks_is_empty_not_noise(tmp_path):
    """Data size 0 with a RIFF size that covers a LIST chunk after it: nothing there to call samples."""
    fmt = struct.pack("<HHIIHH", 1, 1, 16_000, 32_000, 2, 16)
    info = b"INFOISFT" + struct.pack("<I", 6) + b"serkit"
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 0)
    body += b"LIST" + struct.pack("<I", len(info)) + info
    path = tmp_path / "empty_data.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    expect_error(path, "no samples", kind=AudioProblem.EMPTY)


@pytest.mark.parametrize("channels", [1, 2])
def test_a_streamed_flac_without_sample_count_decodes(tmp_path, channels):
    data = fx.synth(3.0, channels=channels, seed=12)
    reference = audio.load(fx.wav_bytes(data, 16_000, format="FLAC"))
    raw = fx.streamed_flac(data)
    with sf.SoundFile(io.BytesIO(raw)) as f:
        assert f.frames > 2**40  # what made it "576460752303423.5 s" long
    path = tmp_path / "streamed.flac"
    path.write_bytes(raw)
    assert np.array_equal(audio.load(path), reference)
    assert audio.info(path) == audio.AudioInfo(16_000, 48_000, channels)
    assert np.array_equal(audio.load(raw, name="up.flac", max_duration=600), reference)
    joined = np.concatenate(list(audio.iter_blocks(path, block_seconds=0.7)))
    assert np.array_equal(joined, reference)


def test_a_streamed_flac_ending_on_a_read_boundary(tmp_path):
    """The last read fills its buffer exactly and still meets the end: no sample lost, none invented."""
    data = fx.synth(2 * 65_536 / 16_000, seed=13)
    assert len(data) == 2 * 65_536
    path = tmp_path / "boundary.flac"
    path.write_bytes(fx.streamed_flac(data))
    assert audio.info(path).frames == len(data)
    assert np.array_equal(audio.load(path), audio.load(fx.wav_bytes(data, 16_000, format="FLAC")))
    blocks = list(audio.iter_blocks(path, block_seconds=65_536 / 16_000))
    assert [len(b) for b in blocks] == [65_536, 65_536]


def test_a_streamed_flac_is_bounded_by_decoded_duration():
    """An unknown length is not an infinite one: refused only once max_duration is really exceeded."""
    raw = fx.streamed_flac(fx.synth(12.0, seed=14))
    assert len(audio.load(raw, name="up.flac", max_duration=12.0)) == 12 * 16_000
    with pytest.raises(AudioError, match="up.flac: too long: more than 10 s decoded") as err:
        audio.load(raw, name="up.flac", max_duration=10.0)
    assert err.value.kind is AudioProblem.TOO_LONG


def test_too_long_from_the_header_before_decoding():
    raw = fx.wav_bytes(fx.synth(12.0, seed=15), 16_000, format="FLAC")
    with pytest.raises(AudioError, match=r"up.flac: too long: 12.0 s \(maximum 10 s\)") as err:
        audio.load(raw, name="up.flac", max_duration=10.0)
    assert err.value.kind is AudioProblem.TOO_LONG


# --------------------------------------------------------------------------- sample-rate range


def test_a_tiny_file_declaring_7_hz_is_refused_before_any_work(tmp_path):
    """8 KB at 7 Hz claims 571 s; resampling it to 16 kHz took 13.5 s of CPU."""
    path = tmp_path / "seven.wav"
    path.write_bytes(fx.wav_bytes(fx.synth(4000 / 7, 7, seed=1, partials=(1.0,)), 7))
    assert path.stat().st_size < 8_200
    t0 = time.process_time()
    words = ("sample rate 7 Hz", f"{audio.MIN_SAMPLE_RATE}..{audio.MAX_SAMPLE_RATE} Hz")
    expect_error(path, *words, kind=AudioProblem.BAD_SAMPLE_RATE)
    for call in (lambda: audio.info(path), lambda: next(audio.iter_blocks(path))):
        with pytest.raises(AudioError, match="sample rate 7 Hz") as err:
            call()
        assert err.value.kind is AudioProblem.BAD_SAMPLE_RATE
    assert time.process_time() - t0 < 1.0
    with pytest.raises(AudioError, match="sample rate 7 Hz") as err:
        audio.resample(np.zeros(100, np.float32), 7)
    assert err.value.kind is AudioProblem.BAD_SAMPLE_RATE


@pytest.mark.parametrize("sr,ok", [(3_999, False), (4_000, True), (384_000, True), (384_001, False)])
def test_sample_rate_range_edges(tmp_path, sr, ok):
    path = tmp_path / f"r{sr}.wav"
    path.write_bytes(fx.wav_bytes(fx.synth(0.5, sr, seed=3), sr))
    if ok:
        assert abs(len(audio.load(path)) - 8_000) <= 2
    else:
        expect_error(path, f"sample rate {sr} Hz", kind=AudioProblem.BAD_SAMPLE_RATE)


@pytest.mark.parametrize("fmt,keep", [("WAV", 4), ("WAV", 10), ("WAV", 30), ("AIFF", 10), ("AIFF", 30),
                                      ("FLAC", 5), ("FLAC", 30)])
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # no "Exception ignored" traceback
def test_a_file_cut_inside_its_header_is_truncated(fmt, keep):
    raw = fx.wav_bytes(fx.synth(0.5, seed=16), 16_000, format=fmt)[:keep]
    with pytest.raises(AudioError, match=f"cut: unreadable audio: truncated inside its header .*after {keep} bytes") as err:
        audio.load(raw, name="cut")
    assert err.value.kind is AudioProblem.TRUNCATED
