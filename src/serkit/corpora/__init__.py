"""Corpus readers: any emotional-speech corpus folder -> one speaker-aware table."""

from serkit.corpora.base import COLUMNS, Corpus, CorpusInfo, CorpusReader, Recovered, Skipped
from serkit.corpora.manifest import read_manifest
from serkit.corpora.registry import (
    READERS,
    Dataset,
    corpus_info,
    corpus_names,
    detect,
    get_reader,
    load_dataset,
    parse_data_spec,
    register_corpus,
    scan,
)

__all__ = [
    "COLUMNS",
    "READERS",
    "Corpus",
    "CorpusInfo",
    "CorpusReader",
    "Dataset",
    "Recovered",
    "Skipped",
    "corpus_info",
    "corpus_names",
    "detect",
    "get_reader",
    "load_dataset",
    "parse_data_spec",
    "read_manifest",
    "register_corpus",
    "scan",
]
