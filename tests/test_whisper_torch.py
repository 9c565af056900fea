"""The PyTorch Whisper encoder must reproduce CTranslate2 and OpenAI's front end."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
import torch

from serkit.features.whisper_torch import (
    MAX_MEL_FRAMES,
    WhisperEncoder,
    default_model_dir,
    encode_all_layers,
    read_ct2_model,
    whisper_log_mel,
)

import fixtures as fx  # noqa: E402

CLIP = fx.RAVDESS_ROOT / "Actor_01" / "03-01-05-02-01-01-01.flac"
needs_clip = pytest.mark.skipif(fx.REAL_DATA_SKIPPABLE and not CLIP.is_file(), reason=f"RAVDESS clip {CLIP} not available")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    import soundfile as sf

    x, sr = sf.read(CLIP, dtype="float32")
    assert sr == 16_000 and x.ndim == 1
    return x


@pytest.fixture(scope="module")
def encoder() -> WhisperEncoder:
    return WhisperEncoder.from_ct2(default_model_dir())


def _librosa_log_mel(x: np.ndarray) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(
        y=x.astype(np.float64), sr=16_000, n_fft=400, hop_length=160, win_length=400,
        window="hann", center=True, pad_mode="reflect", power=2.0, n_mels=80,
    )[:, :-1]
    mel = mel[:, : mel.shape[1] - mel.shape[1] % 2]
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


@needs_clip
def test_log_mel_matches_librosa(signal):
    mel = whisper_log_mel(signal)
    ref = _librosa_log_mel(signal)
    assert mel.dtype == np.float32
    assert mel.shape == ref.shape == (80, len(signal) // 160)
    assert np.abs(mel - ref).max() < 1e-4


def test_log_mel_frame_count_is_even_and_short_input_rejected():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16_000 + 160).astype(np.float32)  # 101 frames -> 100
    mel = whisper_log_mel(x)
    assert mel.shape == (80, 100)
    assert np.abs(mel - _librosa_log_mel(x)).max() < 1e-4
    with pytest.raises(ValueError, match="too short"):
        whisper_log_mel(np.zeros(319, dtype=np.float32))
    with pytest.raises(ValueError, match="1-D"):
        whisper_log_mel(np.zeros((2, 16_000), dtype=np.float32))


@needs_clip
def test_last_state_matches_ctranslate2(signal, encoder):
    import ctranslate2

    mel = whisper_log_mel(signal)
    model = ctranslate2.models.Whisper(str(default_model_dir()), device="cpu", intra_threads=1)
    ref = np.array(model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))
    with torch.inference_mode():
        ours = encoder(torch.from_numpy(mel)[None])[-1].numpy()
    assert ref.shape == ours.shape == (1, mel.shape[1] // 2, 384)
    diff = float(np.abs(ref - ours).max())
    print(f"max |torch - ctranslate2| = {diff:.3g}")
    assert diff < 1e-3


@needs_clip
def test_state_count_and_index_convention(signal, encoder):
    states = encode_all_layers(signal, encoder)
    n_layers = len(encoder.blocks)
    assert n_layers == 4  # tiny.en
    assert states.shape == (n_layers + 2, len(signal) // 160 // 2, 384) == (encoder.n_states, *states.shape[1:])
    assert states.dtype == np.float32
    # The last entry is the final LayerNorm applied to the last block's raw output.
    with torch.inference_mode():
        normed = encoder.ln_post(torch.from_numpy(states[-2])).numpy()
    np.testing.assert_allclose(states[-1], normed, atol=1e-5)
    # Raw block outputs are not normalised: the residual stream grows with depth.
    assert np.abs(states[-2]).max() > np.abs(states[-1]).max()


def test_too_many_frames_raises(encoder):
    assert encoder.max_frames == MAX_MEL_FRAMES == 3000
    with pytest.raises(ValueError, match="at most 3000"):
        encoder(torch.zeros(1, 80, 3002))
    with pytest.raises(ValueError, match="shape"):
        encoder(torch.zeros(80, 100))


def _ct2_string(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def test_read_ct2_model_parses_synthetic_file(tmp_path):
    half = np.arange(6, dtype=np.float16).reshape(2, 3)
    bf16 = (np.array([1.5, -2.0], dtype=np.float32).view(np.uint32) >> 16).astype("<u2")
    blob = struct.pack("<I", 6) + _ct2_string("WhisperSpec") + struct.pack("<II", 3, 3)
    blob += _ct2_string("a/half") + struct.pack("<BII", 2, 2, 3) + struct.pack("<BI", 4, half.nbytes) + half.tobytes()
    blob += _ct2_string("b/bf16") + struct.pack("<BI", 1, 2) + struct.pack("<BI", 5, 4) + bf16.tobytes()
    blob += _ct2_string("c/heads") + struct.pack("<B", 0) + struct.pack("<BI", 2, 2) + struct.pack("<h", 6)
    blob += struct.pack("<I", 1) + _ct2_string("d/tied") + _ct2_string("a/half")
    (tmp_path / "model.bin").write_bytes(blob)

    w, meta = read_ct2_model(tmp_path)
    assert meta["binary_version"] == 6 and meta["spec_revision"] == 3
    assert meta["aliases"] == {"d/tied": "a/half"} and meta["config"] == {}
    assert w["a/half"].dtype == np.float32 and np.array_equal(w["a/half"], half.astype(np.float32))
    assert np.array_equal(w["b/bf16"], [1.5, -2.0])
    assert w["c/heads"].shape == () and int(w["c/heads"]) == 6
    assert w["d/tied"] is w["a/half"]
    assert set(read_ct2_model(tmp_path, prefix="b/")[0]) == {"b/bf16"}

    (tmp_path / "model.bin").write_bytes(blob[:40])
    with pytest.raises(ValueError, match="truncated"):
        read_ct2_model(tmp_path)


def test_read_ct2_model_rejects_other_files(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"PK\x03\x04 definitely not ctranslate2")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        read_ct2_model(tmp_path)
    bad.write_bytes(struct.pack("<I", 6) + _ct2_string("TransformerSpec") + struct.pack("<II", 1, 0))
    with pytest.raises(ValueError, match="not a Whisper model"):
        read_ct2_model(bad)
    with pytest.raises(FileNotFoundError):
        read_ct2_model(tmp_path / "nowhere")
