"""The closed vocabulary of normalisation schemes a config names, apart from their arithmetic.

It lives in a module of its own, free of numpy, so that the experiment config and the command line (which
declares ``--normalize``'s choices from it) load without the schemes' numerical code: ``serkit --help`` stays
light. The schemes themselves are the `Normalizer` classes of `serkit.normalization`.
"""

from __future__ import annotations

from enum import Enum


class Normalization(str, Enum):
    """The closed set of schemes a config may name (`ExperimentConfig.normalize`)."""

    NONE = "none"
    CORPUS = "corpus"  # each corpus z-scored by its own statistics; a new domain by adaptation statistics
    SPEAKER = "speaker"  # each speaker z-scored by its own files (transductive)
