"""The one audio loader: decode by content, downmix to mono, resample to 16 kHz, validate.

Every path that turns bytes into a signal (corpora, features, prediction, the web
server) goes through here, so a file is either usable everywhere or rejected with
the same one-line reason everywhere. Each rejection carries an `AudioProblem` kind,
so callers (the server's status table) never match message text.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from serkit.errors import AudioError, AudioProblem

SAMPLE_RATE = 16_000
MIN_DURATION = 0.25  # seconds
SILENCE_DBFS = -60.0
# Sample rates a file may declare. Below 4 kHz nothing of speech is left (telephone speech is
# 8 kHz) and a tiny file declaring such a rate claims an absurd duration whose resampling costs
# seconds of CPU; above 384 kHz no recording format goes.
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3", ".wave"})

Source = str | Path | bytes | BinaryIO

# libsndfile reports a length of 2**63 - 1 when the header does not state one (a FLAC written by a
# streaming encoder has total_samples = 0 in STREAMINFO). No real header comes near 2**40 frames
# (33 days at 384 kHz), so anything above is "unknown", to be found by decoding.
_PLAUSIBLE_FRAMES = 2**40
# libsndfile's public SF_ERR_UNRECOGNISED_FORMAT, and its SFE_BAD_SEEK ("Internal psf_fseek()
# failed"): the error a read of a stream of unknown length raises once it has decoded up to the end.
_SF_ERR_UNRECOGNISED_FORMAT = 1
# ... and its SFE_BAD_FILE ("File does not exist or is not a regular file (possibly a pipe?)"): what it says of
# a file it opened by name (the same bytes in memory get SF_ERR_UNRECOGNISED_FORMAT) when no format reads them.
# The file exists (it was opened here first), so both mean "not audio", from the CLI and the server alike.
_SF_ERR_NOT_AUDIO = frozenset({_SF_ERR_UNRECOGNISED_FORMAT, 7})
# libsndfile opens its messages with "Error opening '<path>': " or "Error opening <_Bytes object at 0x...>: ":
# the path is already in serkit's message, and a repr with an address is nothing a user can use.
_OPENING = re.compile(r"^Error opening (?:'.*'|<[^>]*>): ")
_SFE_BAD_SEEK = 39
_UNKNOWN_LENGTH_BLOCK = 1 << 16  # frames per read when the header gives no length
# Decoded samples (frames x channels) `iter_blocks` reads at once: 32 MB as float32, whatever the file's rate and
# channels (the resampler's output does not depend on how its input is cut, so neither does a prediction).
_MAX_BLOCK_SAMPLES = 1 << 23
# An MP3 header's frame count is an estimate: encoder delay and padding may leave the decoder up
# to two MPEG frames short without anything missing. Every other format must decode exactly.
_MP3_SLACK_FRAMES = 2 * 1152
# WAV data sizes that mean "unknown length": what streaming writers leave when they cannot seek
# back to fill the header in (ffmpeg to a pipe writes 0xFFFFFFFF, some recorders 0).
_WAV_UNKNOWN_SIZES = frozenset({0, 0xFFFFFFFF})
_MAX_CHUNKS = 1000


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def is_audio_name(path: str | Path) -> bool:
    """Whether a file name looks like audio (used to tell skipped audio from unrelated files)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def is_audio_entry(path: str | Path) -> bool:
    """Audio by its name, minus macOS AppleDouble litter (`._x.wav`, metadata, never audio): what folder
    walks (corpus scans, prediction of a folder) take."""
    return is_audio_name(path) and not Path(path).name.startswith("._")


def check_sample_rate(sample_rate: int, *, name: str = "<audio>") -> None:
    """Refuse rates outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE before any work depends on them."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            name,
            f"sample rate {sample_rate} Hz is outside the supported range {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz",
            AudioProblem.BAD_SAMPLE_RATE,
        )


def _name(source: Source, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(source, (str, Path)):
        return str(source)
    return getattr(source, "name", "<upload>")


# --------------------------------------------------------------------------- container headers
# libsndfile sizes a WAV or AIFF by the bytes present, so a file cut short decodes "fine" as a
# shorter clip. What the header promised is read here, to call such a file truncated.


@dataclass(frozen=True)
class _Header:
    cut_in_header: bool = False  # the file ends before its sample data starts
    promised_bytes: int = 0  # WAV: the data chunk's declared size ...
    held_bytes: int = 0  # ... and the bytes actually there
    block_align: int = 0
    bytes_per_second: int = 0
    declared_frames: int | None = None  # AIFF: COMM's frame count
    patch: tuple[int, bytes] | None = None  # (offset, bytes) to present instead: a streamed WAV's data size 0


def _walk(fh: BinaryIO, pos: int, size: int, order: str) -> Iterator[tuple[bytes, int, int] | None]:
    """(id, body offset, declared size) of each IFF chunk from `pos`; None when a chunk header is cut."""
    for _ in range(_MAX_CHUNKS):
        if pos >= size:
            return
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            yield None
            return
        cid = head[:4]
        if not all(32 <= c < 127 for c in cid):
            return  # not laid out as we read it: leave the verdict to the decoder
        (n,) = struct.unpack(order + "I", head[4:])
        yield cid, pos + 8, n
        pos += 8 + n + (n & 1)


def _wav_header(fh: BinaryIO, size: int, order: str) -> _Header:
    block = rate = 0
    for chunk in _walk(fh, 12, size, order):
        if chunk is None:
            return _Header(cut_in_header=True)
        cid, body, n = chunk
        if cid == b"data":
            held = size - body
            if n == 0 and held > 0 and _streamed(fh, body, size, order):
                # Written by a streaming tool: the samples run to the end of the file.
                usable = min(held - held % max(block, 1), 0xFFFFFFFF - max(block, 1))
                return _Header(patch=(body - 4, struct.pack(order + "I", usable)))
            if n in _WAV_UNKNOWN_SIZES:
                return _Header()
            return _Header(promised_bytes=n, held_bytes=held, block_align=block, bytes_per_second=rate)
        if body + n > size:
            return _Header(cut_in_header=True)
        if cid == b"fmt " and n >= 14:
            fh.seek(body)
            fmt = fh.read(14)
            if len(fmt) == 14:
                rate, block = struct.unpack(order + "IH", fmt[8:14])
    return _Header()


def _streamed(fh: BinaryIO, body: int, size: int, order: str) -> bool:
    """Whether bytes after an empty data chunk are samples (a streamed WAV) rather than more chunks."""
    fh.seek(4)
    (riff,) = struct.unpack(order + "I", fh.read(4))
    if riff in _WAV_UNKNOWN_SIZES or riff + 8 < size:
        return True  # the RIFF size does not cover those bytes either
    fh.seek(body)
    return not all(32 <= c < 127 for c in fh.read(4))


def _aiff_header(fh: BinaryIO, size: int) -> _Header:
    for chunk in _walk(fh, 12, size, ">"):
        if chunk is None:
            return _Header(cut_in_header=True)
        cid, body, n = chunk
        if body + n > size:
            return _Header(cut_in_header=True)  # COMM comes before the sound data
        if cid == b"COMM" and n >= 6:
            fh.seek(body)
            (frames,) = struct.unpack(">xxI", fh.read(6))
            return _Header(declared_frames=frames)
    return _Header()


def _inspect(fh: BinaryIO) -> _Header:
    """What a WAV or AIFF header promises (nothing for other formats); restores the position."""
    try:
        if not fh.seekable():
            return _Header()
        was = fh.tell()
        size = fh.seek(0, io.SEEK_END)
    except (AttributeError, OSError):
        return _Header()
    try:
        fh.seek(0)
        magic = fh.read(12)
        wav = magic[:4] in (b"RIFF", b"RIFX") and magic[8:12] in (b"WAVE", magic[8:])
        aiff = magic[:4] == b"FORM" and magic[8:12] in (b"AIFF", b"AIFC", magic[8:])
        flac = magic[:4] == b"fLaC"
        if (wav or aiff) and len(magic) < 12 or flac and size < 4 + 4 + 34:  # FLAC: magic + STREAMINFO
            return _Header(cut_in_header=True)
        if wav:
            return _wav_header(fh, size, "<" if magic[:4] == b"RIFF" else ">")
        return _aiff_header(fh, size) if aiff else _Header()
    except (OSError, struct.error):
        return _Header()
    finally:
        fh.seek(was)


# MPEG audio frame headers (ISO 11172-3, 13818-3): kbps by (MPEG-1?, layer) and bitrate index 1..14, and the
# sample rates by version. Enough to walk from one frame to the next without decoding.
_MPEG_KBPS = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # version bits
_MPEG_SCAN_BYTES = 1 << 16  # where the first two frames must be found before the decoder is left to judge


def _mpeg_frame_size(head: bytes) -> int | None:
    """The size in bytes of the MPEG audio frame whose 4-byte header is `head`; None when it is not one
    (or a free-format frame, whose size the header does not give)."""
    if len(head) < 4:
        return None
    h = int.from_bytes(head[:4], "big")
    version, layer_bits, kbps_index, rate_index = (h >> 19) & 3, (h >> 17) & 3, (h >> 12) & 15, (h >> 10) & 3
    if h >> 21 != 0x7FF or version == 1 or layer_bits == 0 or kbps_index in (0, 15) or rate_index == 3:
        return None
    layer, mpeg1, padding = 4 - layer_bits, version == 3, (h >> 9) & 1
    bitrate = _MPEG_KBPS[(mpeg1, layer)][kbps_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    return (144 if mpeg1 or layer == 2 else 72) * bitrate // rate + padding


def _check_mpeg(fh: BinaryIO, label: str) -> bool:
    """Whether the data looks like an MP3 (an ID3 tag, or data opening on a frame header); refuses one
    without two whole audio frames.

    libmpg123 needs two frames to find its bearings: with fewer it fails in a way libsndfile reports
    as "File does not exist or is not a regular file (possibly a pipe?)", after printing its own
    warnings to stderr. Counted here, before the decoder sees the file, the user gets what is wrong.
    """
    try:
        if not fh.seekable():
            return False
        was = fh.tell()
    except (AttributeError, OSError):
        return False
    try:
        fh.seek(0)
        head = fh.read(10)
        tagged = head[:3] == b"ID3" and len(head) == 10
        if not tagged and _mpeg_frame_size(head) is None:
            return False  # not an MP3, or one libsndfile recognises by other means
        start = 0
        if tagged:
            start = (
                10
                + sum((b & 0x7F) << s for b, s in zip(head[6:10], (21, 14, 7, 0), strict=True))
                + (10 if head[5] & 0x10 else 0)
            )
        fh.seek(start)
        data = fh.read(_MPEG_SCAN_BYTES)
        ends = len(data) < _MPEG_SCAN_BYTES  # the whole rest of the file is in `data`
    except (OSError, ValueError):
        return True
    finally:
        fh.seek(was)
    frames = 0
    for k in range(len(data) - 3):
        size = _mpeg_frame_size(data[k : k + 4])
        if size is None:
            continue
        if k + size > len(data):
            if not ends:
                return True
            continue  # a frame cut short: not a whole one
        if _mpeg_frame_size(data[k + size : k + size + 4]) is not None:
            return True  # two frames in a row: the decoder's to judge
        frames = max(frames, 1)
    if not ends:
        return True
    if frames == 0:
        what = (
            "an MP3 holding only an ID3 tag"
            if tagged and not data.strip(b"\0")
            else "an MP3 without a whole audio frame"
        )
        raise AudioError(label, f"contains no audio: {what}", AudioProblem.EMPTY)
    raise AudioError(
        label, "too short: an MP3 of a single audio frame (a decoder needs at least two)", AudioProblem.TOO_SHORT
    )


# What libmpg123 prints on its own (it has no switch that libsndfile sets): "[src/libmpg123/parse.c:...] warning: ...",
# "Warning: Xing stream size off by more than 1%...", "Note: Trying to resync...".
_MPG123_NOISE = re.compile(rb"^(?:\[src/libmpg123/|Warning: |Note: )")
_QUIET = threading.Lock()
_quiet_depth = 0
_quiet_saved: tuple[int, Any] | None = None  # the real fd 2, and the temporary file standing in for it


@contextlib.contextmanager
def _quiet_decoder() -> Iterator[None]:
    """Keep libmpg123's own messages off stderr while it decodes: a user gets serkit's one line, not a C
    library's notes on the file first.

    fd 2 points at a temporary file meanwhile (shared by threads decoding at once); whatever else was
    written there, by another thread, is copied back to stderr afterwards, so nothing but the decoder's
    chatter is lost.
    """
    global _quiet_depth, _quiet_saved
    with _QUIET:
        if _quiet_depth == 0:
            try:
                sys.stderr.flush()
                held = tempfile.TemporaryFile()  # noqa: SIM115 - open until the last decoding thread leaves
                _quiet_saved = (os.dup(2), held)
                os.dup2(held.fileno(), 2)
            except (OSError, ValueError, AttributeError):  # no fd 2 to stand in for: nothing to keep quiet
                _quiet_saved = None
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                real, held = _quiet_saved
                _quiet_saved = None
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()
                os.dup2(real, 2)
                os.close(real)
                held.seek(0)
                others = b"".join(line for line in held if not _MPG123_NOISE.match(line))
                held.close()
                while others:
                    others = others[os.write(2, others) :]


class _Bytes(io.BytesIO):
    """Bytes for libsndfile's virtual IO. It probes damaged headers with seeks before the start;
    BytesIO raises there, inside a C callback, which prints "Exception ignored" and a traceback.
    Failing the seek quietly (staying put, like a file's lseek) lets libsndfile report the damage."""

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        try:
            return super().seek(pos, whence)
        except ValueError:
            return self.tell()


class _PatchedReader(io.RawIOBase):
    """A read-only view of a file with a few header bytes replaced, for libsndfile's virtual IO."""

    def __init__(self, raw: BinaryIO, offset: int, data: bytes) -> None:
        super().__init__()
        self._raw = raw
        self._lo = offset
        self._data = data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        try:
            return self._raw.seek(pos, whence)
        except (OSError, ValueError):  # see _Bytes
            return self._raw.tell()

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        start = self._raw.tell()
        view = memoryview(buffer).cast("B")
        chunk = self._raw.read(len(view))  # BinaryIO promises read(), not readinto()
        n = len(chunk)
        view[:n] = chunk
        lo, hi = max(start, self._lo), min(start + n, self._lo + len(self._data))
        if lo < hi:
            view[lo - start : hi - start] = self._data[lo - self._lo : hi - self._lo]
        return n


# --------------------------------------------------------------------------- opening and decoding


@dataclass(frozen=True)
class _Stream:
    file: Any  # soundfile.SoundFile
    label: str
    sample_rate: int
    channels: int
    frames: int | None  # None: the header does not state the length
    slack: int  # frames the decoder may fall short of `frames` without anything missing
    mpeg: bool = False  # decoded by libmpg123, which talks on stderr: reads go through `_quiet_decoder`


@contextlib.contextmanager
def _opened(source: Source, label: str) -> Iterator[_Stream]:
    """Open by content, after the checks every caller needs: exists, not empty, a sane rate, not truncated."""
    import soundfile as sf

    with contextlib.ExitStack() as stack:
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.exists():
                raise AudioError(label, "file not found", AudioProblem.NOT_FOUND)
            if path.is_dir():
                raise AudioError(label, "is a folder, not an audio file", AudioProblem.NOT_FOUND)
            try:
                if path.stat().st_size == 0:
                    raise AudioError(label, "empty file (0 bytes)", AudioProblem.EMPTY)
                fh: BinaryIO = stack.enter_context(open(path, "rb"))
            except OSError as exc:  # permission denied, a FIFO's peer gone, an I/O error
                raise AudioError(label, f"unreadable: {exc.strerror or exc}", AudioProblem.CORRUPT) from None
            target: object = os.fsencode(path)  # the name's own bytes: a name that is not UTF-8 opens too
        elif isinstance(source, (bytes, bytearray)):
            if len(source) == 0:
                raise AudioError(label, "empty file (0 bytes)", AudioProblem.EMPTY)
            fh = target = _Bytes(source)
        else:
            fh = target = source
        mpeg = _check_mpeg(fh, label)
        header = _inspect(fh)
        if header.patch is not None:
            target = _PatchedReader(fh, *header.patch)
        try:
            # libsndfile sniffs the container from the header, not the extension: an AIFF
            # named .wav (a known TESS quirk) decodes as AIFF.
            with _quiet_decoder() if mpeg else contextlib.nullcontext():
                f = stack.enter_context(sf.SoundFile(target))
        except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
            if header.cut_in_header:
                raise AudioError(
                    label,
                    f"unreadable audio: truncated inside its header (the file ends after "
                    f"{fh.seek(0, io.SEEK_END)} bytes)",
                    AudioProblem.TRUNCATED,
                ) from None
            if getattr(exc, "code", None) in _SF_ERR_NOT_AUDIO:
                raise AudioError(
                    label,
                    "unreadable audio: not a recognised audio format (wav, flac, ogg, aiff, mp3)",
                    AudioProblem.UNRECOGNISED,
                ) from None
            detail = _OPENING.sub("", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise AudioError(label, f"unreadable audio: {detail}", AudioProblem.CORRUPT) from None
        sr = int(f.samplerate)
        check_sample_rate(sr, name=label)
        frames = int(f.frames) if f.frames < _PLAUSIBLE_FRAMES else None
        _check_promise(header, label, sr, frames)
        yield _Stream(
            f,
            label,
            sr,
            int(f.channels),
            frames,
            _MP3_SLACK_FRAMES if f.format == "MP3" else 0,
            mpeg or f.format == "MP3",
        )


def _check_promise(header: _Header, label: str, sample_rate: int, frames: int | None) -> None:
    """A file holding less than its header promises is truncated; one holding nothing, empty."""
    if header.promised_bytes - header.held_bytes >= max(header.block_align, 1):
        # bytes per second from 'fmt ' (right for compressed WAV too); a malformed one: the PCM guess.
        rate = header.bytes_per_second or header.block_align * sample_rate or sample_rate
        promised, held = header.promised_bytes / rate, header.held_bytes / rate
    elif header.declared_frames is not None and frames is not None and frames < header.declared_frames:
        promised, held = header.declared_frames / sample_rate, frames / sample_rate
    else:
        return
    if held == 0:
        raise AudioError(
            label,
            f"contains no samples: the header promises {_secs(promised)} s, the file ends after its header",
            AudioProblem.EMPTY,
        )
    raise AudioError(
        label,
        f"truncated: the header promises {_secs(promised)} s, the file holds {_secs(held)} s "
        f"({_secs(promised - held)} s missing)",
        AudioProblem.TRUNCATED,
    )


def _secs(seconds: float) -> str:
    """Milliseconds, or two significant digits below that (one missing sample is not "0.000 s")."""
    return f"{seconds:.3f}" if seconds >= 0.001 or seconds == 0 else f"{seconds:.2g}"


def _read(stream: _Stream, n: int) -> tuple[np.ndarray, bool]:
    """Up to n frames, (frames, channels) float32, and whether the stream ended there."""
    if stream.frames is not None:
        with _quiet_decoder() if stream.mpeg else contextlib.nullcontext():
            data = stream.file.read(n, dtype="float32", always_2d=True)
        return data, data.shape[0] < n
    import soundfile as sf

    # Unknown length: soundfile seeks past what it read, which fails at the true end. The
    # samples are in `out` by then; NaN marks what the decoder did not fill (FLAC is integer PCM).
    out = np.full((n, stream.channels), np.nan, dtype=np.float32)
    try:
        with _quiet_decoder() if stream.mpeg else contextlib.nullcontext():
            data = stream.file.read(out=out)
        return data, data.shape[0] < n
    except sf.LibsndfileError as exc:
        if exc.code != _SFE_BAD_SEEK:
            raise
        filled = np.flatnonzero(~np.all(np.isnan(out), axis=1))
        return out[: int(filled[-1]) + 1 if filled.size else 0], True


def _blocks(stream: _Stream, block: int, *, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Decoded (frames, channels) blocks to the end of the stream.

    Raises CORRUPT when the decoder fails, TOO_LONG as soon as more than `max_frames` are
    decoded (bounding the work on a stream of unknown length), TRUNCATED when the decoder
    ends short of the length in the header.
    """
    sr = stream.sample_rate
    done = 0
    while stream.frames is None or done < stream.frames:
        want = block if stream.frames is None else min(block, stream.frames - done)
        try:
            data, ended = _read(stream, want)
        except Exception as exc:
            where = f" after {done / sr:.2f} s" if done else ""
            raise AudioError(
                stream.label, f"unreadable audio{where}: {str(exc).splitlines()[0]}", AudioProblem.CORRUPT
            ) from None
        done += data.shape[0]
        if max_frames is not None and done > max_frames:
            raise AudioError(
                stream.label,
                f"too long: more than {max_frames / sr:g} s decoded (maximum {max_frames / sr:g} s)",
                AudioProblem.TOO_LONG,
            )
        if data.shape[0]:
            yield data
        if ended:
            break
    if stream.frames is not None and stream.frames - done > stream.slack:
        promised, held = stream.frames / sr, done / sr
        raise AudioError(
            stream.label,
            f"truncated: the header promises {_secs(promised)} s, the decoder found "
            f"{_secs(held)} s ({_secs(promised - held)} s missing)",
            AudioProblem.TRUNCATED,
        )


def info(source: Source, *, name: str | None = None) -> AudioInfo:
    """Header facts without decoding the samples (except where the header does not state the
    length, as in a FLAC from a streaming encoder: then the frames are counted by decoding)."""
    label = _name(source, name)
    with _opened(source, label) as s:
        frames = s.frames
        if frames is None:
            frames = sum(b.shape[0] for b in _blocks(s, _UNKNOWN_LENGTH_BLOCK))
        return AudioInfo(s.sample_rate, frames, s.channels)


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels: keeps level comparable between mono and stereo recordings."""
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(signal: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """High-quality resampling (libsoxr), from any rate in the supported range."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(signal, dtype=np.float32)
    check_sample_rate(int(orig_sr))
    import soxr

    return soxr.resample(signal, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def validate(
    signal: np.ndarray,
    sample_rate: int,
    *,
    name: str = "<audio>",
    min_duration: float = MIN_DURATION,
    silence_dbfs: float = SILENCE_DBFS,
) -> np.ndarray:
    """Reject what no emotion model can use: empty, non-finite, too short or silent audio."""
    if signal.size == 0:
        raise AudioError(name, "contains no samples", AudioProblem.EMPTY)
    if not np.all(np.isfinite(signal)):
        raise AudioError(name, "contains NaN or infinite samples", AudioProblem.INVALID_SAMPLES)
    check_length_and_level(
        signal.size,
        float(np.max(np.abs(signal))),
        sample_rate,
        name=name,
        min_duration=min_duration,
        silence_dbfs=silence_dbfs,
    )
    return signal


def check_length_and_level(
    n_samples: int,
    peak: float,
    sample_rate: int,
    *,
    name: str = "<audio>",
    min_duration: float = MIN_DURATION,
    silence_dbfs: float = SILENCE_DBFS,
) -> None:
    """The too-short and silence checks from summary numbers, so a streamed file gets them too."""
    duration = n_samples / sample_rate
    if duration < min_duration:
        raise AudioError(name, f"too short: {duration:.3f} s (minimum {min_duration} s)", AudioProblem.TOO_SHORT)
    peak_db = 20.0 * np.log10(peak) if peak > 0 else -np.inf
    if peak_db < silence_dbfs:
        shown = "-inf" if not np.isfinite(peak_db) else f"{peak_db:.1f}"
        raise AudioError(name, f"silent: peak {shown} dBFS (below {silence_dbfs:.0f} dBFS)", AudioProblem.SILENT)


def load(
    source: Source,
    *,
    sample_rate: int = SAMPLE_RATE,
    name: str | None = None,
    min_duration: float = MIN_DURATION,
    max_duration: float | None = None,
    max_samples: int | None = None,
    check: bool = True,
) -> np.ndarray:
    """Decode any supported file (path, bytes or file object) to mono float32 at `sample_rate`.

    max_duration and max_samples bound the work on untrusted uploads (a few kB of FLAC can expand
    to gigabytes of samples). max_samples counts what the decoder produces, channels x rate x
    seconds, because that is what costs time and memory: 150 s is harmless at 16 kHz mono and 1.8 GB
    at 384 kHz on 8 channels. Both are checked from the header before decoding when it states the
    length, and block by block while decoding when it does not. Blocks (at most _MAX_BLOCK_SAMPLES
    samples, so an ordinary clip is one read) are downmixed as they come, so what is held is the
    mono signal and at most one block of the channels.
    """
    label = _name(source, name)
    with _opened(source, label) as s:
        sr = s.sample_rate
        if max_duration is not None and s.frames is not None and s.frames / sr > max_duration:
            raise AudioError(
                label, f"too long: {s.frames / sr:.1f} s (maximum {max_duration:g} s)", AudioProblem.TOO_LONG
            )
        if max_samples is not None and s.frames is not None and s.frames * s.channels > max_samples:
            raise _too_many_samples(
                s, max_samples, f"{s.frames / sr:.1f} s: {s.frames * s.channels / 1e6:.1f} M samples"
            )
        max_frames = None if max_duration is None else int(max_duration * sr)
        # A file whose header states its length is read in one go up to _MAX_BLOCK_SAMPLES (as in iter_blocks):
        # an ordinary clip is one read, a huge one never holds more than one block of its channels. MP3 keeps
        # 64k-frame reads: libsndfile's (1.2.2) MP3 decoder gives slightly different samples depending on where
        # reads are cut (up to ~5e-5 on a 4 s clip), and changing the cut would change its predictions.
        if s.frames is None or s.mpeg:
            block = _UNKNOWN_LENGTH_BLOCK
        else:
            block = max(1, min(s.frames, _MAX_BLOCK_SAMPLES // s.channels))
        parts: list[np.ndarray] = []
        decoded = 0
        for data in _blocks(s, block, max_frames=max_frames):
            # With the length in the header, the checks above already bound what _blocks reads.
            if s.frames is None and max_samples is not None:
                decoded += data.size
                if decoded > max_samples:
                    raise _too_many_samples(
                        s, max_samples, f"length not in the header: more than {max_samples / 1e6:g} M samples"
                    )
            parts.append(to_mono(data))
    if not parts:
        raise AudioError(label, "contains no samples", AudioProblem.EMPTY)
    mono = parts[0] if len(parts) == 1 else np.concatenate(parts)
    del parts
    signal = resample(mono, sr, sample_rate)
    if check:
        validate(signal, sample_rate, name=label, min_duration=min_duration)
    return signal


def _too_many_samples(stream: _Stream, max_samples: int, what: str) -> AudioError:
    """TOO_LONG for a decode bound: `what` says how many samples, from the header or counted."""
    channels = f"{stream.channels} channel{'s' if stream.channels != 1 else ''}"
    return AudioError(
        stream.label,
        f"too long: {channels} at {stream.sample_rate} Hz, {what} to decode "
        f"(maximum {max_samples / 1e6:g} M samples, channels x rate x seconds)",
        AudioProblem.TOO_LONG,
    )


def iter_blocks(
    source: str | Path,
    *,
    block_seconds: float = 30.0,
    sample_rate: int = SAMPLE_RATE,
) -> Iterator[np.ndarray]:
    """Stream a long recording as mono 16 kHz blocks so memory stays bounded by the block size."""
    import soxr

    label = str(source)
    with _opened(source, label) as s:
        sr = s.sample_rate
        stream = soxr.ResampleStream(sr, sample_rate, 1, dtype="float32", quality="HQ") if sr != sample_rate else None
        # A block is bounded in samples as well as in seconds: 30 s of 8 channels at 384 kHz is 92 M samples.
        frames = max(1, min(int(block_seconds * sr), _MAX_BLOCK_SAMPLES // s.channels))
        for data in _blocks(s, frames):
            if not np.all(np.isfinite(data)):
                raise AudioError(label, "contains NaN or infinite samples", AudioProblem.INVALID_SAMPLES)
            mono = to_mono(data)
            out = stream.resample_chunk(mono, last=False) if stream is not None else mono
            if out.size:
                yield out
        if stream is not None:
            tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                yield tail
