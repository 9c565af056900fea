"""Disk cache of features keyed by audio content hash + extractor + config + feature version.

The content hash (not the path) is the key, so renamed or copied corpora hit the
cache and an edited file never does; the extractor key changes with any config or
FEATURE_VERSION change, so stale features are never reused.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from serkit.io import atomic_write_bytes, file_sha256

logger = logging.getLogger(__name__)

# Entry layout: magic, ndim (1 byte), shape (ndim x uint32), payload length (uint64), crc32 of
# everything before it and of the payload (uint32), then the float32 payload (little-endian).
# The length and checksum let a read tell a damaged entry (cut, overwritten, one flipped bit)
# from a good one: a damaged entry is a miss, recomputed and replaced, never served.
_MAGIC = b"SKF2"
_OLD_MAGICS = (b"SKF1",)  # earlier layouts: a silent miss, replaced on the next write
_MAX_NDIM = 8
_DIGEST = re.compile(r"[0-9a-f]{64}")


def default_cache_dir() -> Path:
    env = os.environ.get("SERKIT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "serkit" / "features"


class FeatureCache:
    """One verified .f32 entry per (extractor key, content key); a small index remembers file hashes."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self._root_str = str(self.root)
        self._index_path = self.root / "hashes.json"
        self._hashes: dict[str, str] | None = None
        self._dirty = False

    def _index(self) -> dict[str, str]:
        if self._hashes is None:
            self._hashes = self._read_index()
        return self._hashes

    def _read_index(self) -> dict[str, str]:
        """The memo of file hashes; a damaged one is rebuilt (it only saves rereading files)."""
        try:
            raw = self._index_path.read_bytes()
        except OSError:
            return {}
        try:
            index = json.loads(raw)
            if isinstance(index, dict) and all(
                isinstance(k, str) and isinstance(v, str) and _DIGEST.fullmatch(v) for k, v in index.items()
            ):
                return index
            why = "not a map of file keys to sha256 digests"
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            why = f"not JSON: {exc}"
        logger.warning("feature cache index %s is damaged (%s); rebuilding it", self._index_path, why)
        self._dirty = True
        return {}

    def content_hash(self, path: str | Path) -> str:
        """sha256 of the file's bytes, memoised by (path, size, mtime, ctime, inode) to avoid rereading.

        ctime and inode too: an edit that keeps the size and restores the mtime (cp -p, rsync -t,
        tar x) still changes the ctime, which no one can set back.
        """
        p = os.path.abspath(path)
        st = os.stat(p)
        memo = f"{p}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"
        index = self._index()
        digest = index.get(memo)
        if digest is None:
            digest = file_sha256(p)
            index[memo] = digest
            self._dirty = True
        return digest

    def save_index(self) -> None:
        if self._dirty and self._hashes is not None:
            atomic_write_bytes(self._index_path, json.dumps(self._hashes).encode(), durable=False)
            self._dirty = False

    def _file(self, extractor_key: str, content_key: str) -> str:
        # Plain string joins: this runs once per file per warm run, where pathlib's cost shows.
        return f"{self._root_str}/{extractor_key}/{content_key[:2]}/{content_key}.f32"

    def get(self, extractor_key: str, content_key: str) -> np.ndarray | None:
        """A float32 array, or None when absent or damaged (then it is recomputed and replaced)."""
        path = self._file(extractor_key, content_key)
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError:
            return None
        value, why = decode_entry(raw)
        if why:
            logger.warning("feature cache entry %s is damaged (%s); recomputing it", path, why)
        return value

    def put(self, extractor_key: str, content_key: str, value: np.ndarray) -> None:
        """Store a finite array; a non-finite one is not stored (it would be refused on reading)."""
        arr = np.ascontiguousarray(value, dtype="<f4")
        if not np.all(np.isfinite(arr)):
            return
        atomic_write_bytes(Path(self._file(extractor_key, content_key)), encode_entry(arr), durable=False)


def encode_entry(value: np.ndarray) -> bytes:
    """One cache entry: a verifiable header + raw float32 (~10x faster to read back than .npy)."""
    arr = np.ascontiguousarray(value, dtype="<f4")
    payload = arr.tobytes()
    head = _MAGIC + bytes([arr.ndim]) + struct.pack(f"<{arr.ndim}IQ", *arr.shape, len(payload))
    return head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload


def decode_entry(raw: bytes) -> tuple[np.ndarray | None, str | None]:
    """(array, None) for a verified entry; (None, why) for a damaged one; (None, None) for an old layout."""
    if raw[:4] in _OLD_MAGICS:
        return None, None
    if len(raw) < 5:
        return None, f"short header: {len(raw)} bytes"
    if raw[:4] != _MAGIC:
        return None, "bad magic"
    ndim = raw[4]
    if ndim > _MAX_NDIM:
        return None, f"bad header: {ndim} dimensions"
    start = 5 + 4 * ndim + 8 + 4
    if len(raw) < start:
        return None, f"short header: {len(raw)} bytes"
    *shape, length = struct.unpack(f"<{ndim}IQ", raw[5 : start - 4])
    (crc,) = struct.unpack("<I", raw[start - 4 : start])
    if length != 4 * math.prod(shape) or len(raw) - start != length:
        return None, f"wrong length: {len(raw) - start} payload bytes for shape {tuple(shape)}"
    if zlib.crc32(raw[start:], zlib.crc32(raw[: start - 4])) != crc:
        return None, "checksum mismatch"
    value = np.frombuffer(raw, dtype="<f4", offset=start).reshape(shape).copy()
    if not np.isfinite(value).all():  # put() never writes these; a checksummed one comes from some other writer
        return None, "non-finite values"
    return value, None
