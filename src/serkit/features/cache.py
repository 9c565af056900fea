"""Disk cache of features keyed by audio content hash + extractor + config + feature version.

The content hash (not the path) is the key, so renamed or copied corpora hit the
cache and an edited file never does; the extractor key changes with any config or
FEATURE_VERSION change, so stale features are never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

from serkit.io import atomic_write_bytes


_MAGIC = b"SKF1"


def default_cache_dir() -> Path:
    env = os.environ.get("SERKIT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "serkit" / "features"


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """One .npy per (extractor key, content key); a small index remembers file hashes."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self._root_str = str(self.root)
        self._index_path = self.root / "hashes.json"
        self._hashes: dict[str, str] | None = None
        self._dirty = False

    def _index(self) -> dict[str, str]:
        if self._hashes is None:
            try:
                self._hashes = json.loads(self._index_path.read_text())
            except (OSError, ValueError):
                self._hashes = {}
        return self._hashes

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
            digest = file_digest(p)
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
        """A float32 array, or None when absent or unreadable (then it is simply recomputed)."""
        try:
            with open(self._file(extractor_key, content_key), "rb") as fh:
                raw = fh.read()
        except OSError:
            return None
        if len(raw) < 5 or raw[:4] != _MAGIC:
            return None
        ndim = raw[4]
        start = 5 + 4 * ndim
        shape = struct.unpack(f"<{ndim}I", raw[5:start])
        size = 1
        for n in shape:
            size *= n
        if len(raw) - start != 4 * size:
            return None  # truncated: treat as a miss
        return np.frombuffer(raw, dtype="<f4", offset=start).reshape(shape).copy()

    def put(self, extractor_key: str, content_key: str, value: np.ndarray) -> None:
        # A 5-byte header + raw float32: ~10x faster to read back than .npy's parsed header.
        arr = np.ascontiguousarray(value, dtype="<f4")
        header = _MAGIC + bytes([arr.ndim]) + struct.pack(f"<{arr.ndim}I", *arr.shape)
        atomic_write_bytes(Path(self._file(extractor_key, content_key)), header + arr.tobytes(), durable=False)
