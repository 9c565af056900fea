"""What every corpus reader shares: walking a tree, checking headers, reporting skips."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from serkit import audio
from serkit.errors import AudioError, CorpusError

# Columns every table has, in this order; readers may add their own after them.
COLUMNS = ("path", "corpus", "speaker", "gender", "language", "label", "emotion", "duration")


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Corpus:
    """A scanned corpus: one row per usable file, plus what was skipped and why."""

    name: str
    root: str
    table: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        return sorted(self.table["speaker"].dropna().unique().tolist())

    def summary(self) -> dict:
        from serkit.labels import ordered

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
            "skipped": len(self.skipped),
            "skipped_examples": [{"path": s.path, "reason": s.reason} for s in self.skipped[:10]],
        }


class CorpusReader(ABC):
    """Turns file names of one corpus into rows; subclasses only know the naming scheme."""

    name: str = ""
    language: str = ""

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

    def matches(self, path: Path, root: Path) -> bool:
        try:
            return self.parse(path, root) is not None
        except Exception:
            return False

    def read(self, root: str | Path, *, check_audio: bool = True) -> Corpus:
        root = Path(root)
        files = list_audio_files(root)
        self.prepare(root)
        rows: list[dict] = []
        skipped: list[Skipped] = []
        for path in files:
            fields = self.parse(path, root)
            if fields is None:
                skipped.append(Skipped(str(path), f"file name does not follow the {self.name} naming scheme"))
                continue
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
            rows.append(row)
        return Corpus(self.name, str(root), make_table(rows), skipped)


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
    table = pd.DataFrame(list(rows))
    for col in COLUMNS:
        if col not in table.columns:
            table[col] = pd.Series(dtype="object")
    extra = [c for c in table.columns if c not in COLUMNS]
    table = table[list(COLUMNS) + extra]
    return table.sort_values("path", kind="stable").reset_index(drop=True)


def list_audio_files(root: Path) -> list[Path]:
    """Audio files below root (any case of any supported extension); other files are ignored."""
    if not root.exists():
        raise CorpusError(f"{root}: folder not found")
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and audio.is_audio_name(p) and not p.name.startswith("._"))


def match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    return pattern.fullmatch(text)
