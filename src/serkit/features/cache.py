"""Disk cache of features keyed by audio content hash + extractor + config + feature version.

The content hash (not the path) is the key, so renamed or copied corpora hit the
cache and an edited file never does; the extractor key changes with any config or
FEATURE_VERSION change, so stale features are never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    env = os.environ.get("SERKIT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "serkit" / "features"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write-then-rename: a crash never leaves a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        """sha256 of the file's bytes, memoised by (path, size, mtime) to avoid rereading."""
        p = Path(path)
        st = p.stat()
        memo = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        index = self._index()
        digest = index.get(memo)
        if digest is None:
            digest = file_digest(p)
            index[memo] = digest
            self._dirty = True
        return digest

    def save_index(self) -> None:
        if self._dirty and self._hashes is not None:
            atomic_write_bytes(self._index_path, json.dumps(self._hashes).encode())
            self._dirty = False

    def _file(self, extractor_key: str, content_key: str) -> Path:
        return self.root / extractor_key / content_key[:2] / f"{content_key}.npy"

    def get(self, extractor_key: str, content_key: str) -> np.ndarray | None:
        f = self._file(extractor_key, content_key)
        try:
            return np.load(f, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def put(self, extractor_key: str, content_key: str, value: np.ndarray) -> None:
        import io

        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
        atomic_write_bytes(self._file(extractor_key, content_key), buf.getvalue())
