"""CSV manifests (`path,label[,speaker]`) for data that follows no known naming scheme."""

from __future__ import annotations

import csv
from pathlib import Path

from serkit.corpora.base import Corpus, Skipped, header_duration
from serkit.errors import CorpusError, UnknownNameError
from serkit.labels import normalise_label


def read_manifest(path: str | Path, *, name: str = "manifest", check_audio: bool = True) -> Corpus:
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found")
    try:
        return _read(path, name=name, check_audio=check_audio)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CorpusError(f"{path}: not a readable UTF-8 CSV manifest ({exc})") from None


def _read(path: Path, *, name: str, check_audio: bool) -> Corpus:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        if "path" not in fields or "label" not in fields:
            raise CorpusError(
                f"{path}: a manifest needs the columns path,label[,speaker]; found {','.join(fields) or 'none'}"
            )
        rows, skipped = [], []
        for i, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
            audio_path = Path(row["path"])
            if not audio_path.is_absolute():
                audio_path = (path.parent / audio_path).resolve()
            try:
                emotion = normalise_label(row["label"])
            except UnknownNameError as exc:
                skipped.append(Skipped(str(audio_path), f"line {i}: {exc}"))
                continue
            duration, problem = header_duration(audio_path) if check_audio else (float("nan"), None)
            if problem:
                skipped.append(Skipped(str(audio_path), problem))
                continue
            speaker = row.get("speaker") or None
            rows.append(
                {
                    "path": str(audio_path),
                    "corpus": name,
                    "speaker": f"{name}:{speaker}" if speaker else None,
                    "gender": row.get("gender") or None,
                    "language": row.get("language") or "",
                    "label": row["label"],
                    "emotion": emotion,
                    "duration": duration,
                }
            )
    return Corpus(name, str(path), rows, skipped)
