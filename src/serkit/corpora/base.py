"""What every corpus reader shares: walking a tree, checking headers, reporting skips, recovering misnamed files."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from serkit import audio
from serkit.errors import AudioError, CorpusError, UnknownNameError
from serkit.io import walk_files
from serkit.labels import normalise_label, ordered

# Columns every table has, in this order; readers may add their own after them.
# `recovered`: speaker and emotion came from the folders, the file name breaks the scheme.
COLUMNS = ("path", "corpus", "speaker", "gender", "language", "label", "emotion", "duration", "recovered")


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
    """A scanned corpus: one row per usable file, plus what was skipped and why, and what was recovered."""

    name: str
    root: str
    table: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)
    recovered: list[Recovered] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        return sorted(self.table["speaker"].dropna().unique().tolist())

    def summary(self) -> dict:
        t = self.table
        emotions = t["emotion"].value_counts()
        return {
            "corpus": self.name,
            "root": self.root,
            "files": int(len(t)),
            "speakers": int(t["speaker"].nunique()),
            "hours": round(float(t["duration"].sum()) / 3600.0, 4),
            "emotions": {k: int(emotions[k]) for k in ordered(emotions.index)},
            "per_speaker": {str(k): int(v) for k, v in sorted(t["speaker"].value_counts().items())},
            "per_gender": {str(k): int(v) for k, v in sorted(t["gender"].fillna("unknown").value_counts().items())},
            "recovered": len(self.recovered),
            "recovered_examples": [{"path": r.path, "taken": r.taken} for r in self.recovered[:10]],
            "skipped": len(self.skipped),
            "skipped_examples": [{"path": s.path, "reason": s.reason} for s in self.skipped[:10]],
        }


class CorpusReader(ABC):
    """Turns file names of one corpus into rows; subclasses only know the naming scheme.

    A file whose name breaks the scheme is not lost when its folders say who speaks and which
    emotion it is (TESS `OAF_angry/OAF_bakc-angry.wav`): `folder_fields` says what one folder
    name means, and `read` takes speaker and label from there when every folder that says
    something agrees; such rows are marked `recovered` and listed in the scan.
    """

    name: str = ""
    language: str = ""
    # The corpus' own labels -> the unified emotion (for labels read from folders).
    labels: Mapping[str, str] = {}

    @abstractmethod
    def parse(self, path: Path, root: Path) -> dict | None:
        """Fields for one audio file (speaker, gender, label, emotion, ...) or None if the name doesn't fit."""

    def skip_reason(self, fields: dict) -> str | None:
        """A reason to skip a well-named file (e.g. RAVDESS song files); None keeps it."""
        return None

    def prepare(self, root: Path) -> None:
        """Hook for readers that need a side file (CREMA-D demographics)."""

    def speaker_id(self, raw: str) -> str:
        # Corpus-prefixed so speakers of two corpora never collide when merged.
        return f"{self.name}:{raw}"

    def speaker_fields(self, raw: str) -> dict:
        """What follows from the speaker alone (gender, age): one place for parse and recovery."""
        return {"gender": None}

    def folder_fields(self, folder: str) -> dict[str, str]:
        """What one folder name states about every file below it: {"speaker": raw id}, {"label": own label}, both or {}.

        The default knows emotion folders (`angry/`, `Sadness/`) whose emotion is one of this corpus'
        labels; readers add their speaker folders (RAVDESS `Actor_01`, TESS `OAF_angry`).
        """
        return self.emotion_folder(folder)

    def emotion_folder(self, folder: str) -> dict[str, str]:
        try:
            emotion = normalise_label(folder)
        except UnknownNameError:
            return {}
        own = [label for label, e in self.labels.items() if e == emotion]
        return {"label": own[0]} if len(own) == 1 else {}

    def fields_from_folders(self, path: Path, root: Path) -> tuple[dict | None, str]:
        """(fields, what was taken from which folder), or (None, why not) for a file whose name doesn't fit."""
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
            taken = (f"speaker {speaker} from folder {'/'.join(speaker_folders)}, "
                     f"emotion {emotion} from folder {'/'.join(label_folders)}")
        fields = {"speaker": self.speaker_id(speaker), **self.speaker_fields(speaker),
                  "label": label, "emotion": emotion}
        return fields, taken

    def matches(self, path: Path, root: Path) -> bool:
        try:
            return self.parse(path, root) is not None
        except Exception:
            return False

    def read(self, root: str | Path, *, check_audio: bool = True) -> Corpus:
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
                    skipped.append(Skipped(str(path), f"file name does not follow the {self.name} naming scheme; {why}"))
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
        return Corpus(self.name, str(root), make_table(rows), skipped, recovered)


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
