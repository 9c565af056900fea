"""One reader per corpus, each a transcription of the corpus' file-naming scheme (see corpora.md).

Each reader registers itself (`@register_corpus`): a built-in corpus is one class here. Auto-detection tries
them in the order they are declared, the generic `LabelFolders` last.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from serkit.corpora.base import CorpusInfo, CorpusReader, register_corpus
from serkit.errors import CorpusError

_RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}


@register_corpus
class Ravdess(CorpusReader):
    info = CorpusInfo(
        "ravdess",
        language="en",
        language_name="English",
        licence="RAVDESS: CC BY-NC-SA 4.0 (Livingstone & Russo 2018) — non-commercial, share-alike",
        commercial_use=False,
    )
    labels = _RAVDESS_EMOTIONS
    _re = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")
    _actor_folder = re.compile(r"Actor_(\d\d)")

    def __init__(self, *, include_song: bool = False) -> None:
        self.include_song = include_song

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None:
            return None
        modality, channel, emo, intensity, statement, repetition, actor = m.groups()
        if emo not in _RAVDESS_EMOTIONS or channel not in ("01", "02") or intensity not in ("01", "02"):
            return None
        if not 1 <= int(actor) <= 24:
            return None
        return {
            "speaker": self.speaker_id(actor),
            **self.speaker_fields(actor),
            "label": emo,
            "emotion": _RAVDESS_EMOTIONS[emo],
            "modality": modality,
            "vocal_channel": "speech" if channel == "01" else "song",
            "intensity": "normal" if intensity == "01" else "strong",
            "text": statement,
            "repetition": repetition,
        }

    def speaker_fields(self, raw: str) -> dict:
        return {"gender": "male" if int(raw) % 2 else "female"}

    def folder_fields(self, folder: str) -> dict[str, str]:
        m = self._actor_folder.fullmatch(folder)
        if m is not None and 1 <= int(m.group(1)) <= 24:
            return {"speaker": m.group(1)}
        return super().folder_fields(folder)

    def skip_reason(self, fields: dict) -> str | None:
        if fields.get("vocal_channel") == "song" and not self.include_song:
            return "song file (vocal channel 02), skipped by default"
        return None


_CREMA_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
_CREMA_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
_CREMA_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}


@register_corpus
class CremaD(CorpusReader):
    info = CorpusInfo(
        "crema_d",
        language="en",
        language_name="English",
        licence="CREMA-D: Open Database License (ODbL) / Database Contents License",
        aliases=("cremad", "crema-d"),
    )
    labels = _CREMA_EMOTIONS
    _re = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")

    def __init__(self) -> None:
        self._gender: dict[str, str] = {}

    def prepare(self, root: Path) -> None:
        """Gender lives in VideoDemographics.csv, in the corpus root (or the folder above AudioWAV)."""
        self._gender = {}
        for candidate in (root / "VideoDemographics.csv", root.parent / "VideoDemographics.csv"):
            if candidate.is_file():
                with candidate.open(newline="", encoding="utf-8-sig") as fh:
                    for row in csv.DictReader(fh):
                        actor, sex = (row.get("ActorID") or "").strip(), (row.get("Sex") or "").strip().lower()
                        if actor and sex in ("male", "female"):
                            self._gender[actor] = sex
                break

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None:
            return None
        actor, sentence, emo, level = m.groups()
        if emo not in _CREMA_EMOTIONS or sentence not in _CREMA_SENTENCES or level not in _CREMA_LEVELS:
            return None
        if not 1001 <= int(actor) <= 1091:
            return None
        return {
            "speaker": self.speaker_id(actor),
            **self.speaker_fields(actor),
            "label": emo,
            "emotion": _CREMA_EMOTIONS[emo],
            "text": sentence,
            "intensity": _CREMA_LEVELS[level],
        }

    def speaker_fields(self, raw: str) -> dict:
        return {"gender": self._gender.get(raw)}


_TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",
    "sad": "sad",
}
_TESS_AGE = {"OAF": 64, "YAF": 26}


@register_corpus
class Tess(CorpusReader):
    info = CorpusInfo(
        "tess",
        language="en",
        language_name="English",
        licence="TESS: CC BY-NC-ND 4.0 (University of Toronto)",
        commercial_use=False,
    )
    labels = _TESS_EMOTIONS
    # Labels come from the file name: folder names vary between releases.
    _re = re.compile(r"(OAF|YAF)_(.+)_(angry|disgust|fear|happy|neutral|ps|sad)", re.IGNORECASE)
    # `OAF_angry`, `OAF_Fear`, `OAF_Pleasant_surprise`, `YAF_pleasant_surprised`: speaker and emotion.
    _folder = re.compile(r"(OAF|YAF)_(.+)", re.IGNORECASE)
    _folder_labels = {"pleasant_surprise": "ps", "pleasant_surprised": "ps"}

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None:
            return None
        speaker, word, emo = m.group(1).upper(), m.group(2), m.group(3).lower()
        return {
            "speaker": self.speaker_id(speaker),
            **self.speaker_fields(speaker),
            "label": emo,
            "emotion": _TESS_EMOTIONS[emo],
            "text": word.lower(),
        }

    def speaker_fields(self, raw: str) -> dict:
        return {"gender": "female", "age": _TESS_AGE[raw]}

    def folder_fields(self, folder: str) -> dict[str, str]:
        m = self._folder.fullmatch(folder)
        if m is None:
            return super().folder_fields(folder)
        said = m.group(2).lower()
        label = said if said in _TESS_EMOTIONS else self._folder_labels.get(said)
        label = label or self.emotion_folder(said).get("label")
        # A speaker folder whose rest is no emotion (`OAF_extra`) says nothing: its name is not TESS'.
        return {"speaker": m.group(1).upper(), "label": label} if label else {}


_SAVEE_EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
_SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")


@register_corpus
class Savee(CorpusReader):
    info = CorpusInfo(
        "savee",
        language="en",
        language_name="English",
        licence="SAVEE: free for research use (Haq & Jackson, University of Surrey)",
        commercial_use=False,
    )
    labels = _SAVEE_EMOTIONS
    _flat = re.compile(r"(DC|JE|JK|KL)_(a|d|f|h|n|sa|su)(\d\d)")
    _nested = re.compile(r"(a|d|f|h|n|sa|su)(\d\d)")

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._flat.fullmatch(path.stem)
        if m is not None:
            speaker, emo, number = m.groups()
        else:
            m = self._nested.fullmatch(path.stem)
            if m is None or path.parent.name not in _SAVEE_SPEAKERS:
                return None
            speaker = path.parent.name
            emo, number = m.groups()
        return {
            "speaker": self.speaker_id(speaker),
            **self.speaker_fields(speaker),
            "label": emo,
            "emotion": _SAVEE_EMOTIONS[emo],
            "text": f"{emo}{number}",
        }

    def speaker_fields(self, raw: str) -> dict:
        return {"gender": "male"}

    def folder_fields(self, folder: str) -> dict[str, str]:
        return {"speaker": folder} if folder in _SAVEE_SPEAKERS else super().folder_fields(folder)


_EMODB_EMOTIONS = {
    "W": "angry",
    "L": "boredom",
    "E": "disgust",
    "A": "fearful",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
_EMODB_MALE = {"03", "10", "11", "12", "15"}
_EMODB_FEMALE = {"08", "09", "13", "14", "16"}


@register_corpus
class EmoDb(CorpusReader):
    info = CorpusInfo(
        "emodb",
        language="de",
        language_name="German",
        licence="EMO-DB: free for research use (TU Berlin)",
        commercial_use=False,
        aliases=("emo-db", "emo_db"),
    )
    labels = _EMODB_EMOTIONS
    _re = re.compile(r"(03|08|09|10|11|12|13|14|15|16)(a0[12457]|b0[1239]|b10)([WLEAFTN])([a-z])")

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None:
            return None
        speaker, text, emo, version = m.groups()
        return {
            "speaker": self.speaker_id(speaker),
            **self.speaker_fields(speaker),
            "label": emo,
            "emotion": _EMODB_EMOTIONS[emo],
            "text": text,
            "version": version,
        }

    def speaker_fields(self, raw: str) -> dict:
        return {"gender": "male" if raw in _EMODB_MALE else "female"}


_EMOVO_EMOTIONS = {
    "dis": "disgust",
    "gio": "happy",
    "neu": "neutral",
    "pau": "fearful",
    "rab": "angry",
    "sor": "surprised",
    "tri": "sad",
}


@register_corpus
class Emovo(CorpusReader):
    info = CorpusInfo(
        "emovo",
        language="it",
        language_name="Italian",
        licence="EMOVO: research use (Costantini et al. 2014)",
        commercial_use=False,
    )
    labels = _EMOVO_EMOTIONS
    _re = re.compile(r"(dis|gio|neu|pau|rab|sor|tri)-([fm][123])-(b[1-3]|d[12]|l[1-4]|n[1-5])")
    _speaker_folder = re.compile(r"[fm][123]")

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None:
            return None
        emo, speaker, sentence = m.groups()
        return {
            "speaker": self.speaker_id(speaker),
            **self.speaker_fields(speaker),
            "label": emo,
            "emotion": _EMOVO_EMOTIONS[emo],
            "text": sentence,
        }

    def speaker_fields(self, raw: str) -> dict:
        return {"gender": "female" if raw[0] == "f" else "male"}

    def folder_fields(self, folder: str) -> dict[str, str]:
        return {"speaker": folder} if self._speaker_folder.fullmatch(folder) else super().folder_fields(folder)


_URDU_EMOTIONS = {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"}


@register_corpus
class Urdu(CorpusReader):
    info = CorpusInfo(
        "urdu",
        language="ur",
        language_name="Urdu",
        licence="URDU: research use (Latif et al. 2018)",
        commercial_use=False,
    )
    labels = _URDU_EMOTIONS
    _re = re.compile(r"S([MF])(\d+)_F(\d+)_([AHNS])(\d+)")

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None:
            return None
        gender, number, file_no, emo, running = m.groups()
        # The speaker id keeps the gender letter: SM1 and SF1 are two different people.
        return {
            "speaker": self.speaker_id(f"S{gender}{number}"),
            **self.speaker_fields(f"S{gender}{number}"),
            "label": emo,
            "emotion": _URDU_EMOTIONS[emo],
            "file_number": file_no,
            "index": running,
        }

    def speaker_fields(self, raw: str) -> dict:
        return {"gender": "male" if raw[1] == "M" else "female"}


_NEMO_EMOTIONS = {
    "anger": "angry",
    "fear": "fearful",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprised": "surprised",
}
_NEMO_SPEAKERS = ("EB0", "IC0", "KD0", "KS0", "MK0", "MP0", "SM0", "TP0", "WR0")
_NEMO_COLUMNS = ("file_id", "speaker_id", "gender")  # the data.tsv columns the reader needs
_GENDERS = {"female": "female", "f": "female", "male": "male", "m": "male"}


@register_corpus
class Nemo(CorpusReader):
    """nEMO (Polish): `samples/EB0_anger_12.wav`; gender, age and sentence text from data.tsv."""

    info = CorpusInfo(
        "nemo",
        language="pl",
        language_name="Polish",
        licence="nEMO: CC BY-NC-SA 4.0 (Christop 2024) — non-commercial, share-alike",
        commercial_use=False,
    )
    labels = _NEMO_EMOTIONS
    _re = re.compile(r"(EB0|IC0|KD0|KS0|MK0|MP0|SM0|TP0|WR0)_(anger|fear|happiness|neutral|sadness|surprised)_(\d+)")

    def __init__(self) -> None:
        self._speakers: dict[str, dict] = {}
        self._text: dict[str, str] = {}

    def prepare(self, root: Path) -> None:
        """data.tsv sits in the corpus root, or in the folder above `samples/`; without it gender is unknown."""
        self._speakers, self._text = {}, {}
        candidates = [root / "data.tsv"] + ([root.parent / "data.tsv"] if root.resolve().name == "samples" else [])
        for candidate in candidates:
            if candidate.is_file():
                self._read_tsv(candidate)
                break

    def _read_tsv(self, path: Path) -> None:
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
                found = [f.strip() for f in reader.fieldnames or []]
                if not set(_NEMO_COLUMNS) <= set(found):
                    raise CorpusError(
                        f"{path}: not nEMO's data.tsv (needs the tab-separated columns "
                        f"{', '.join(_NEMO_COLUMNS)}; found {', '.join(found) or 'none'})"
                    )
                for raw in reader:
                    row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                    speaker = row["speaker_id"]  # padded with spaces in the release
                    if speaker and speaker not in self._speakers:
                        age = row.get("age", "")
                        self._speakers[speaker] = {
                            "gender": _GENDERS.get(row["gender"].lower()),
                            "age": int(age) if age.isdigit() else None,
                        }
                    if row["file_id"] and row.get("raw_text"):
                        self._text[Path(row["file_id"]).stem] = row["raw_text"]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CorpusError(f"{path}: not a readable UTF-8 TSV ({exc})") from None

    def parse(self, path: Path, root: Path) -> dict | None:
        m = self._re.fullmatch(path.stem)
        if m is None:
            return None
        speaker, emo, sentence = m.groups()
        return {
            "speaker": self.speaker_id(speaker),
            **self.speaker_fields(speaker),
            "label": emo,
            "emotion": _NEMO_EMOTIONS[emo],
            "sentence": sentence,
            "text": self._text.get(path.stem),
        }

    def speaker_fields(self, raw: str) -> dict:
        known = self._speakers.get(raw, {})
        return {"gender": known.get("gender"), "age": known.get("age")}

    def folder_fields(self, folder: str) -> dict[str, str]:
        return {"speaker": folder} if folder in _NEMO_SPEAKERS else super().folder_fields(folder)


@register_corpus
class LabelFolders(CorpusReader):
    """Any tree whose audio sits in a folder named after its emotion (`happy/x.wav`)."""

    info = CorpusInfo("folders", aliases=("folder",))

    def __init__(self, *, speaker_from: str | None = None) -> None:
        self.speaker_from = speaker_from

    def parse(self, path: Path, root: Path) -> dict | None:
        from serkit.errors import UnknownNameError
        from serkit.labels import normalise_label

        for folder in reversed(path.relative_to(root).parts[:-1]):
            try:
                emotion = normalise_label(folder)
            except UnknownNameError:
                continue
            return {"speaker": None, "gender": None, "label": folder, "emotion": emotion}
        return None

    def speaker_id(self, raw: str) -> str:  # pragma: no cover - folder trees carry no speaker
        return f"{self.name}:{raw}"

    def fields_from_folders(self, path: Path, root: Path) -> tuple[dict | None, str]:
        # Folders are this reader's whole scheme: a file parse() refused has no emotion folder above it.
        return None, "no folder above it is named after an emotion"
