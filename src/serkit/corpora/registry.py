"""Corpus names, auto-detection, and merging several corpora onto one label set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from serkit.corpora import readers as _readers  # noqa: F401  (its readers register themselves on import)
from serkit.corpora.base import READERS as READERS
from serkit.corpora.base import Corpus, CorpusInfo, CorpusReader, import_pandas, list_audio_files
from serkit.corpora.base import register_corpus as register_corpus
from serkit.corpora.manifest import read_manifest
from serkit.errors import CorpusError, DataError, UnknownNameError
from serkit.labels import resolve_label_set

if TYPE_CHECKING:
    import pandas as pd

# READERS and register_corpus live in serkit.corpora.base, next to CorpusReader, so that readers.py registers
# each reader where it declares it; they are re-exported here and from serkit.corpora.
MANIFEST = "manifest"  # a CSV manifest: not a reader of a naming scheme, but a name --data accepts


def corpus_names() -> list[str]:
    """Every name --data NAME=PATH accepts: the registered readers', then `manifest`."""
    return [*READERS.names(), MANIFEST]


def corpus_info(name: str) -> CorpusInfo | None:
    """What is known about a corpus by name or alias (`crema-d`, `ravdess#2` for a second copy); None for a
    name no reader has (a manifest, user data)."""
    base = name.split("#", 1)[0]
    try:
        return READERS.get(base).info
    except UnknownNameError:
        return None


def get_reader(name: str) -> CorpusReader:
    try:
        return READERS.get(name)()
    except UnknownNameError:
        raise UnknownNameError("corpus", name, corpus_names()) from None


def detect(root: str | Path, *, via: str = "corpus") -> str:
    """Pick the reader whose naming scheme fits most audio files under root.

    Args:
        root: The corpus folder, or a CSV manifest.
        via: The parameter that names the reader when the names do not tell: ``corpus`` (`scan`'s), or
            ``data`` (a ``NAME=PATH`` entry, as `load_dataset` takes them).

    Returns:
        The reader's name.

    Raises:
        CorpusError: no audio file under root, or no reader fits half of their names.
    """
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".csv":
        return MANIFEST
    files, unreadable = list_audio_files(root)
    if not files:
        why = ""
        if unreadable:
            first = unreadable[0]
            why = f"; {len(unreadable)} audio-named entries cannot be read, e.g. {first.path}: {first.reason}"
        raise CorpusError(f"{root}: no audio files found (looked for .wav .flac .ogg .aiff .mp3){why}")
    sample = files if len(files) <= 400 else files[:: max(1, len(files) // 400)]
    best, best_share = "", 0.0
    for name, factory in READERS.items():
        reader = factory()
        share = sum(reader.matches(p, root) for p in sample) / len(sample)
        # The generic label-folder reader is a fallback: a corpus reader that fits most
        # names wins even if a few stray files sit in emotion-named folders (URDU's layout).
        if share > best_share and not (name == "folders" and best_share >= 0.5):
            best, best_share = name, share
    if best_share < 0.5:
        advice = "pass corpus as one of" if via == "corpus" else f"name its reader as data=NAME={root} with NAME one of"
        raise CorpusError(
            f"{root}: cannot tell which naming scheme this folder follows "
            f"({best_share:.0%} of names fit the best guess, {best or 'none'}); {advice}: {', '.join(corpus_names())}",
            params=(via,),
        )
    return best


def scan(path: str | Path, *, corpus: str | None = None, check_audio: bool = True) -> Corpus:
    """Read one corpus folder (or CSV manifest) into a table; corpus auto-detected when not given.

    Needs no extra: scanning is plain Python.

    Args:
        path: The corpus folder, or a CSV manifest (``path,label[,speaker]``).
        corpus: The reader's name or alias (``ravdess``, ``manifest``, ...); None: the reader whose naming
            scheme matches most of the folder's files.
        check_audio: Read every file's header and skip the ones that are not usable audio.

    Returns:
        The scanned corpus: its rows, and what was skipped or recovered and why.

    Raises:
        CorpusError: `path` does not exist, is a single file that is not a manifest, or no reader
            recognises the folder.
        UnknownNameError: `corpus` is not a registered reader.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: not found")
    name = corpus or detect(path)
    if name == MANIFEST:
        return read_manifest(path, check_audio=check_audio)
    if path.is_file():
        raise CorpusError(f"{path}: a corpus is a folder (or a .csv manifest), not a single file")
    return get_reader(name).read(path, check_audio=check_audio)


@dataclass
class Dataset:
    """Several corpora merged onto one label set: what training and evaluation consume.

    Attributes:
        table: One row per file of every corpus, with a `domain` column naming the corpus it came from.
        corpora: The scanned corpora, in the order given.
        labels: The emotions kept, in serkit's order.
    """

    table: pd.DataFrame
    corpora: list[Corpus]
    labels: list[str]

    @property
    def has_speakers(self) -> bool:
        """Whether every file's speaker is known (speaker-independent protocols need it)."""
        return bool(len(self.table)) and self.table["speaker"].notna().all()


def parse_data_spec(spec: str) -> tuple[str | None, str]:
    """`PATH` or `NAME=PATH`, as every --data option takes."""
    if "=" in spec:
        name, _, path = spec.partition("=")
        if name and not Path(spec).exists():
            return name.strip(), path.strip()
    return None, spec


def load_dataset(specs: Sequence[str], *, labels: str = "union", check_audio: bool = True) -> Dataset:
    """Scan and merge corpora onto one label set, as evaluation and training read them.

    Needs the ``train`` extra (pandas). A file given twice is read once.

    Args:
        specs: Corpus folders or manifests, each ``PATH`` or ``NAME=PATH`` (NAME forces the reader).
        labels: The label policy: ``union``, ``intersection``, or ``LABEL,LABEL,...``.
        check_audio: Read every file's header and skip the ones that are not usable audio.

    Returns:
        The merged table, the corpora and the kept labels.

    Raises:
        DataError: no spec, a corpus with no usable file, or no file with a kept label.
        CorpusError: a corpus cannot be read.
        ConfigError: `labels` is not a valid policy, or keeps no label.
        MissingExtraError: pandas is not installed (the ``train`` extra).
    """
    pd = import_pandas("serkit.corpora.load_dataset")
    if not specs:
        raise DataError("no corpus to read; pass data=PATH or data=NAME=PATH", params=("data",))
    corpora = [
        scan(path, corpus=name or detect(path, via="data"), check_audio=check_audio)
        for name, path in map(parse_data_spec, specs)
    ]
    for c in corpora:
        if c.table.empty:
            raise DataError(f"{c.root}: no usable audio files ({len(c.skipped)} skipped)")
    keep = resolve_label_set(labels, [set(c.table["emotion"]) for c in corpora])
    # `domain` names the corpus each row came from (name#2 for a second corpus of the same kind): the unit
    # of leave-one-corpus-out and of per-corpus normalisation.
    seen: dict[str, int] = {}
    domains = []
    for c in corpora:
        seen[c.name] = seen.get(c.name, 0) + 1
        domains.append(c.name if seen[c.name] == 1 else f"{c.name}#{seen[c.name]}")
    table = pd.concat(
        [c.table.assign(domain=d) for c, d in zip(corpora, domains, strict=True)], ignore_index=True, sort=False
    )
    import os

    real = table["path"].map(os.path.realpath)
    dup = real.duplicated()
    if dup.any():
        # The same file twice (a corpus given twice, a manifest listing a file twice) would be
        # weighted double, or land in training and test at once: keep the first.
        from serkit.corpora.base import Skipped

        corpora[-1].skipped.extend(Skipped(p, "duplicate of a file already read") for p in table.loc[dup, "path"])
        table = table[~dup].reset_index(drop=True)
    table = table[table["emotion"].isin(keep)].reset_index(drop=True)
    if table.empty:
        raise DataError(f"no file has one of the kept labels ({', '.join(keep)})")
    return Dataset(table, corpora, [k for k in keep if k in set(table["emotion"])])
