"""Corpus readers: any emotional-speech corpus folder -> one speaker-aware table."""

from serkit.corpora.base import COLUMNS, Corpus, CorpusReader, Recovered, Skipped
from serkit.corpora.manifest import read_manifest
from serkit.corpora.registry import CORPUS_NAMES, Dataset, detect, get_reader, load_dataset, parse_data_spec, scan

__all__ = [
    "COLUMNS", "CORPUS_NAMES", "Corpus", "CorpusReader", "Dataset", "Recovered", "Skipped",
    "detect", "get_reader", "load_dataset", "parse_data_spec", "read_manifest", "scan",
]
