"""What every corpus reader shares: walking a tree, checking headers, reporting skips, recovering misnamed files."""

from __future__ import annotations

import csv
import io
import math
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from serkit import audio
from serkit.errors import AudioError, CorpusError, UnknownNameError
from serkit.extras import needs_extra
from serkit.io import walk_files
from serkit.labels import normalise_label, ordered
from serkit.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

# Columns every table has, in this order; readers may add their own after them.
# `recovered`: speaker and emotion came from the folders, the file name breaks the scheme.
COLUMNS = ("path", "corpus", "speaker", "gender", "language", "label", "emotion", "duration", "recovered")


@dataclass(frozen=True)
class CorpusInfo:
    """What serkit knows about a corpus beyond its naming scheme: declared once, on its reader.

    Model cards, the Predictor's description and the web page read the language and the licence from here;
    the command line finds the reader by its name or an alias.

    Attributes:
        name: the registry name (`--data NAME=PATH`, the `corpus` column).
        language: the language code written in the table's `language` column ("" when unknown).
        language_name: the language as cards name it ("English").
        licence: one line naming the terms the recordings come with ("" for user data: none known).
        commercial_use: whether those terms allow commercial use; a model trained on a corpus that does not
            inherits that restriction.
        aliases: other spellings the command line accepts (`crema-d`).
    """

    name: str
    language: str = ""
    language_name: str = ""
    licence: str = ""
    commercial_use: bool = True
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Recovered:
    """A file whose name breaks the scheme but whose folders state its speaker and emotion."""

    path: str
    taken: str  # what came from which folder, e.g. "speaker OAF and emotion angry from folder OAF_angry"


@dataclass
class Corpus:
    """A scanned corpus: one row per usable file, plus what was skipped and why, and what was recovered.

    Scanning needs no pandas: `rows`, `summary()` and `to_csv()` are plain Python. `table`, the pandas
    view that training and evaluation consume, is built on first use.

    Attributes:
        name: The corpus reader's name (`ravdess`, `manifest`, ...).
        root: The folder (or manifest) that was scanned.
        rows: One dict per usable file, in the order the reader produced them.
        skipped: Audio-named entries that were left out, with the reason.
        recovered: Files whose speaker and emotion came from their folders.
    """

    name: str
    root: str
    rows: list[dict[str, Any]]
    skipped: list[Skipped] = field(default_factory=list)
    recovered: list[Recovered] = field(default_factory=list)

    @cached_property
    def table(self) -> pd.DataFrame:
        """The rows as a DataFrame: COLUMNS first, then the reader's own columns, sorted by path."""
        return make_table(self.rows)

    @cached_property
    def columns(self) -> list[str]:
        """Column names of `table`, without building it."""
        extra: dict[str, None] = {}
        for row in self.rows:
            extra.update((k, None) for k in row if k not in COLUMNS)
        return list(COLUMNS) + list(extra)

    def records(self) -> list[dict[str, Any]]:
        """Rows with every column (missing values None, `recovered` always a bool), sorted by path like `table`.

        Returns:
            One dict per file, keyed by `columns`.
        """
        out = [{c: row.get(c) for c in self.columns} for row in sorted(self.rows, key=lambda r: r["path"])]
        for r in out:
            r["recovered"] = not _missing(r["recovered"]) and bool(r["recovered"])
        return out

    @property
    def speakers(self) -> list[str]:
        """The distinct speakers, sorted."""
        return sorted({str(s) for s in (r.get("speaker") for r in self.rows) if not _missing(s)})

    def summary(self) -> dict:
        """Counts of files, speakers, hours, emotions, genders; the recovered and skipped files (10 of each).

        Returns:
            What `serkit corpus scan` prints, as JSON-ready values.
        """
        emotions = Counter(str(e) for e in (r.get("emotion") for r in self.rows) if not _missing(e))
        speakers = Counter(s for s in (r.get("speaker") for r in self.rows) if not _missing(s))
        genders = Counter("unknown" if _missing(g) else g for g in (r.get("gender") for r in self.rows))
        durations = [r.get("duration") for r in self.rows]
        # numpy's pairwise sum with missing values as 0, as pandas' Series.sum computes it
        import numpy as np

        seconds = np.array([np.nan if d is None else d for d in durations], dtype=float)
        total = float(np.where(np.isnan(seconds), 0.0, seconds).sum()) if len(seconds) else 0.0
        return {
            "corpus": self.name,
            "root": self.root,
            "files": len(self.rows),
            "speakers": len(speakers),
            "hours": round(total / 3600.0, 4),
            "emotions": {k: emotions[k] for k in ordered(emotions)},
            "per_speaker": {str(k): v for k, v in sorted(speakers.items())},
            "per_gender": {str(k): v for k, v in sorted(genders.items())},
            "recovered": len(self.recovered),
            "recovered_examples": [{"path": r.path, "taken": r.taken} for r in self.recovered[:10]],
            "skipped": len(self.skipped),
            "skipped_examples": [{"path": s.path, "reason": s.reason} for s in self.skipped[:10]],
        }

    def to_csv(self) -> str:
        """One line per file, the same text as `table.to_csv(index=False)` but without pandas.

        Returns:
            The CSV text, with a header line.
        """
        records = self.records()
        formats = {c: _csv_format([r[c] for r in records]) for c in self.columns}
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for r in records:
            writer.writerow(["" if _missing(r[c]) else formats[c](r[c]) for c in self.columns])
        return out.getvalue()


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _csv_format(values: list[object]):
    """How pandas writes one column: a numeric column with a float or a gap is float, the rest as str()."""
    present = [v for v in values if not _missing(v)]
    numeric = bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if numeric and (len(present) < len(values) or any(isinstance(v, float) for v in present)):
        return lambda v: repr(float(v))
    return str


class CorpusReader(ABC):
    """Turns file names of one corpus into rows; subclasses only know the naming scheme.

    A file whose name breaks the scheme is not lost when its folders say who speaks and which
    emotion it is (TESS `OAF_angry/OAF_bakc-angry.wav`): `folder_fields` says what one folder
    name means, and `read` takes speaker and label from there when every folder that says
    something agrees; such rows are marked `recovered` and listed in the scan.

    Attributes:
        info: What serkit knows about the corpus: name, language, licence, aliases. Set it on every subclass.
        name: `info.name`, set from `info` for every subclass.
        language: `info.language`, set from `info` for every subclass.
        labels: The corpus' own labels -> serkit's emotions (``{"ang": "angry"}``).
    """

    info: ClassVar[CorpusInfo] = CorpusInfo("")
    name: ClassVar[str] = ""  # info.name and info.language, set from `info` for every subclass
    language: ClassVar[str] = ""
    # The corpus' own labels -> the unified emotion (for labels read from folders).
    labels: Mapping[str, str] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.name, cls.language = cls.info.name, cls.info.language

    @abstractmethod
    def parse(self, path: Path, root: Path) -> dict | None:
        """Fields for one audio file (speaker, gender, label, emotion, ...) or None if the name doesn't fit.

        Args:
            path: The audio file.
            root: The corpus folder being read (for schemes that depend on the path below it).

        Returns:
            The row's fields: at least ``speaker`` (through `speaker_id`), ``gender``, ``label`` (the corpus'
            own) and ``emotion`` (serkit's); or None for a file that does not follow the scheme.
        """

    def skip_reason(self, fields: dict) -> str | None:
        """A reason to skip a well-named file (e.g. RAVDESS song files); None keeps it.

        Args:
            fields: What `parse` returned for the file.

        Returns:
            The reason (one line, listed in the scan), or None.
        """
        return None

    def prepare(self, root: Path) -> None:
        """Hook for readers that need a side file (CREMA-D demographics); called once before the files are parsed.

        Args:
            root: The corpus folder being read.
        """
        return None  # a deliberate no-op by default, not an abstract method

    def speaker_id(self, raw: str) -> str:
        """The speaker column's value for a speaker as the corpus names them.

        Args:
            raw: The corpus' own speaker id (``03``, ``OAF``).

        Returns:
            ``CORPUS:RAW``, so that speakers of two corpora never collide when merged.
        """
        # Corpus-prefixed so speakers of two corpora never collide when merged.
        return f"{self.name}:{raw}"

    def speaker_fields(self, raw: str) -> dict:
        """What follows from the speaker alone (gender, age): one place for parse and recovery.

        Args:
            raw: The corpus' own speaker id.

        Returns:
            Fields to add to the row; by default ``{"gender": None}``.
        """
        return {"gender": None}

    def folder_fields(self, folder: str) -> dict[str, str]:
        """What one folder name states about every file below it: {"speaker": raw id}, {"label": own label}, both or {}.

        The default knows emotion folders (`angry/`, `Sadness/`) whose emotion is one of this corpus'
        labels; readers add their speaker folders (RAVDESS `Actor_01`, TESS `OAF_angry`).

        Args:
            folder: One folder name on the path from the corpus root to a file.

        Returns:
            What the name states, possibly nothing.
        """
        return self.emotion_folder(folder)

    def emotion_folder(self, folder: str) -> dict[str, str]:
        """What a folder named for an emotion (`angry/`, `Sadness/`) states: the corpus' own label for it.

        Args:
            folder: One folder name.

        Returns:
            ``{"label": own label}`` when the folder names exactly one of this corpus' emotions, else {}.
        """
        try:
            emotion = normalise_label(folder)
        except UnknownNameError:
            return {}
        own = [label for label, e in self.labels.items() if e == emotion]
        return {"label": own[0]} if len(own) == 1 else {}

    def fields_from_folders(self, path: Path, root: Path) -> tuple[dict | None, str]:
        """(fields, what was taken from which folder), or (None, why not) for a file whose name doesn't fit.

        Args:
            path: The audio file whose name `parse` refused.
            root: The corpus folder being read.

        Returns:
            The row's fields and what was taken from which folder, or None and the reason the folders do not
            say enough.
        """
        claims: dict[str, dict[str, list[str]]] = {"speaker": {}, "label": {}}
        for folder in path.relative_to(root).parts[:-1]:
            for key, value in self.folder_fields(folder).items():
                claims[key].setdefault(value, []).append(folder)
        words = {"speaker": "speaker", "label": "emotion"}
        for key, word in words.items():
            if len(claims[key]) > 1:
                said = ", ".join(f"{v} from {'/'.join(fs)}" for v, fs in claims[key].items())
                return None, f"its folders disagree on the {word} ({said})"
        missing = [word for key, word in words.items() if not claims[key]]
        if missing:
            return None, f"no folder above it states its {' or '.join(missing)}"
        [(speaker, speaker_folders)] = claims["speaker"].items()
        [(label, label_folders)] = claims["label"].items()
        emotion = self.labels[label]
        if speaker_folders == label_folders:
            taken = f"speaker {speaker} and emotion {emotion} from folder {'/'.join(speaker_folders)}"
        else:
            taken = (
                f"speaker {speaker} from folder {'/'.join(speaker_folders)}, "
                f"emotion {emotion} from folder {'/'.join(label_folders)}"
            )
        fields = {
            "speaker": self.speaker_id(speaker),
            **self.speaker_fields(speaker),
            "label": label,
            "emotion": emotion,
        }
        return fields, taken

    def matches(self, path: Path, root: Path) -> bool:
        """Whether a file follows this corpus' naming scheme (auto-detection counts them).

        Args:
            path: The audio file.
            root: The folder being detected.

        Returns:
            True when `parse` accepts it; an error in `parse` counts as no.
        """
        try:
            return self.parse(path, root) is not None
        except Exception:
            return False

    def read(self, root: str | Path, *, check_audio: bool = True) -> Corpus:
        """Scan a corpus folder with this reader: every audio file below it is a row, or skipped with a reason.

        Args:
            root: The corpus folder.
            check_audio: Read every file's header and skip the ones that are not usable audio.

        Returns:
            The scanned corpus.

        Raises:
            CorpusError: `root` is not a folder.
        """
        root = Path(root)
        files, skipped = list_audio_files(root)
        self.prepare(root)
        rows: list[dict] = []
        recovered: list[Recovered] = []
        for path in files:
            fields, taken = self.parse(path, root), None
            if fields is None:
                fields, why = self.fields_from_folders(path, root)
                if fields is None:
                    skipped.append(
                        Skipped(str(path), f"file name does not follow the {self.name} naming scheme; {why}")
                    )
                    continue
                taken = why
            reason = self.skip_reason(fields)
            if reason:
                skipped.append(Skipped(str(path), reason))
                continue
            duration, problem = header_duration(path) if check_audio else (float("nan"), None)
            if problem:
                skipped.append(Skipped(str(path), problem))
                continue
            row = {"path": str(path), "corpus": self.name, "language": self.language, "duration": duration}
            row.update(fields)
            row["recovered"] = taken is not None
            if taken is not None:
                recovered.append(Recovered(str(path), taken))
            rows.append(row)
        skipped.sort(key=lambda s: s.path)
        return Corpus(self.name, str(root), rows, skipped, recovered)


# Reader classes by their `info.name` (and aliases), in the order auto-detection tries them: the built-in
# readers in the order serkit.corpora.readers declares them, then plug-ins' in the order they register.
READERS: Registry[type[CorpusReader]] = Registry("corpus", fold_case=True)

_ReaderT = TypeVar("_ReaderT", bound="type[CorpusReader]")


def register_corpus(reader: _ReaderT, *, replace: bool = False) -> _ReaderT:
    """Make a corpus reader available by its `info.name` and aliases: `--data NAME=PATH`, auto-detection,
    and the language and licence its models' cards state.

    A class decorator (`@register_corpus` above each built-in reader) or a plain call (a plug-in's
    `register_corpus(MyReader, replace=True)`).

    Args:
        reader: The CorpusReader subclass (not an instance); its `info` names it.
        replace: Replace a reader already registered under that name or an alias.

    Returns:
        The reader class itself, so that it can decorate the class.

    Raises:
        ConfigError: the name or an alias is taken (unless replace=True).
    """
    READERS.add(reader.info.name, reader, aliases=reader.info.aliases, replace=replace)
    return reader


def header_duration(path: Path) -> tuple[float, str | None]:
    """Duration from the header alone (cheap), or why the file cannot be used."""
    try:
        duration = audio.info(path).duration
    except AudioError as exc:
        return float("nan"), exc.problem
    if duration <= 0:
        return duration, "contains no samples"
    if duration < audio.MIN_DURATION:
        return duration, f"too short: {duration:.3f} s (minimum {audio.MIN_DURATION} s)"
    return duration, None


def make_table(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows as a DataFrame: COLUMNS first (present even when empty), then the rest, sorted by path.

    Args:
        rows: One dict per file, as a reader produces them.

    Returns:
        The table.

    Raises:
        MissingExtraError: pandas is not installed (the ``train`` extra).
    """
    pd = import_pandas("Corpus.table", "Corpus.rows, summary() and to_csv() need no pandas")

    rows = list(rows)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "path"} for r in rows], index=range(len(rows)))
    # Python str objects, not pandas' Arrow strings: a file name that is not UTF-8 holds lone surrogates
    # (os.fsdecode), which Arrow refuses, and such a file is read like any other.
    table.insert(0, "path", pd.Series([r.get("path") for r in rows], dtype=object))
    for col in COLUMNS:
        if col not in table.columns:
            table[col] = pd.Series(dtype="object")
    table["recovered"] = table["recovered"].fillna(False).astype(bool)
    extra = [c for c in table.columns if c not in COLUMNS]
    table = table[list(COLUMNS) + extra]
    return table.sort_values("path", kind="stable").reset_index(drop=True)


def import_pandas(what: str, hint: str = "") -> ModuleType:
    """pandas, which corpus tables need: the one place that imports it for them.

    Args:
        what: What needs it, as the message names it (``serkit.corpora.load_dataset``).
        hint: An alternative that needs no install.

    Returns:
        The pandas module.

    Raises:
        MissingExtraError: pandas is not installed (the ``train`` extra).
    """
    with needs_extra(what, hint):
        import pandas

    return pandas


def list_audio_files(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Audio files below root (symlinked folders followed), and the audio-named entries that cannot be read.

    Other files are ignored; a FIFO, a broken link or an unreadable file with an audio name comes
    back as a Skipped with its reason, so a scan accounts for every audio-named entry.
    """
    if not root.exists():
        raise CorpusError(f"{root}: folder not found")
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    files, problems = walk_files(root, audio.is_audio_entry)
    return files, [Skipped(str(p), reason) for p, reason in problems]


def match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    return pattern.fullmatch(text)
