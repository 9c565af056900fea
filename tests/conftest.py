"""Shared test setup: where the real corpora are, a fresh feature cache per test, tool checks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fixtures import SHARED_DATA as DATA  # noqa: E402  (one definition of where the corpora are)

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, what: str) -> None:
    """Skip locally when a tool or data set is missing; under CI=true, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing (CI=true: missing tools fail, they do not skip)")
    pytest.skip(f"{what} is missing")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"the tool {name!r}")
    return path or ""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    require((DATA / "ravdess").is_dir() and (DATA / "savee").is_dir(), f"real corpora under {DATA}")
    return DATA


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty feature cache: no test can pass on stale features."""
    monkeypatch.setenv("SERKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
