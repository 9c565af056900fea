"""The terms each corpus' recordings come with, and the language spoken: what a model trained on
them inherits. Read by model cards, the Predictor's description and the web page, and derived from the
`CorpusInfo` each reader declares (`serkit.corpora.registry`), so a corpus states them once."""

from __future__ import annotations

from collections.abc import Iterable

from serkit.corpora.base import CorpusInfo
from serkit.corpora.registry import corpus_info


def _base(name: str) -> str:
    return name.split("#", 1)[0]


def _known(corpora: Iterable[str]) -> list[CorpusInfo]:
    infos = (corpus_info(c) for c in dict.fromkeys(_base(c) for c in corpora))
    return [i for i in infos if i is not None]


def licence_lines(corpora: Iterable[str]) -> list[str]:
    return [i.licence for i in _known(corpora) if i.licence] or ["(user data: check its terms)"]


def commercial_use_allowed(corpora: Iterable[str]) -> bool:
    return all(i.commercial_use for i in _known(corpora))


def languages(corpora: Iterable[str]) -> list[str]:
    return sorted({i.language_name for i in _known(corpora) if i.language_name})


def licence_summary(corpora: Iterable[str]) -> str:
    corpora = list(corpora)
    if commercial_use_allowed(corpora):
        return "see the model card"
    return "non-commercial (inherits the licences of " + ", ".join(dict.fromkeys(map(_base, corpora))) + ")"
