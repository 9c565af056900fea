"""Predictor.adapt with too few recordings: a DataError (a ValueError) that names what it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from serkit import Predictor
from serkit.errors import DataError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_too_few_recordings_is_a_data_error_naming_them_even_from_a_generator():
    files = sorted(str(f) for f in EXAMPLES.glob("*.flac"))[:2]
    with pytest.raises(DataError) as err:
        Predictor.load().adapt(f for f in files)  # a generator: read once
    assert isinstance(err.value, ValueError)
    assert str(err.value).endswith(f"got 2 audio file(s) in {' '.join(files)}"), err.value
