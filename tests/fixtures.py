"""Generators of small synthetic corpus trees (plain functions, not pytest fixtures).

Every generator takes a folder (usually a pytest ``tmp_path``), writes a tiny tree
that follows one corpus' naming scheme exactly (see ../shared/corpora.md), and
returns the corpus root. The audio is synthetic and deterministic: a few sine
partials plus a little noise, peak about 0.3, from a numpy RNG seeded by the file
name, written with ``soundfile``. The file lists are module constants so tests can
derive their expectations from them instead of repeating them.

Nothing here copies corpus audio; the only real file copied is CREMA-D's
``VideoDemographics.csv`` (metadata), which the CREMA-D reader needs for gender.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import shutil
import socket
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

import os as _os

# The real corpora: ../shared/data beside the repository (CI lays it there too), or $SERKIT_SHARED_DATA.
SHARED_DATA = Path(_os.environ.get("SERKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
# Under CI=true a missing corpus must fail the tests that need it, never skip them.
REAL_DATA_SKIPPABLE = _os.environ.get("CI", "").lower() != "true"
RAVDESS_ROOT = SHARED_DATA / "ravdess"
SAVEE_ROOT = SHARED_DATA / "savee"
CREMA_D_DEMOGRAPHICS = SHARED_DATA / "crema_d_meta" / "VideoDemographics.csv"

DURATION = 0.5  # seconds of every generated clip unless said otherwise

# soundfile format per extension (written explicitly so upper-case names work too).
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF", ".mp3": "MP3"}
_SUBTYPES = {"WAV": "PCM_16", "FLAC": "PCM_16", "AIFF": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}


# --------------------------------------------------------------------------- signals


def seed_for(name: str) -> int:
    """A stable RNG seed from a file name, so every file differs but every run is identical."""
    return zlib.crc32(name.encode("utf-8"))


def synth(
    seconds: float = DURATION,
    sample_rate: int = 16_000,
    *,
    channels: int = 1,
    seed: int = 0,
    partials: tuple[float, ...] = (220.0, 440.0, 660.0),
    amplitude: float = 0.3,
    noise: float = 0.01,
) -> np.ndarray:
    """A few sine partials plus white noise, peak ~``amplitude``; shape (n,) or (n, channels)."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    cols = []
    for ch in range(channels):
        x = np.zeros(n)
        for k, f in enumerate(partials):
            x += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / (k + 1)
        x += rng.normal(0.0, noise, n) * (ch + 1)
        x *= amplitude / max(np.max(np.abs(x)), 1e-9)
        cols.append(x)
    data = np.stack(cols, axis=1) if channels > 1 else cols[0]
    return data.astype(np.float32)


def tone(freq: float, seconds: float, sample_rate: int, *, amplitude: float = 0.3, channels: int = 1) -> np.ndarray:
    """A pure sine (for frequency checks after resampling); shape (n,) or (n, channels)."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def write(path: Path, data: np.ndarray, sample_rate: int, *, format: str | None = None, subtype: str | None = None) -> Path:
    """Write ``data`` with soundfile; the format follows the extension unless given (e.g. AIFF named .wav)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = format or _FORMATS[path.suffix.lower()]
    sf.write(str(path), data, sample_rate, format=fmt, subtype=subtype or _SUBTYPES.get(fmt))
    return path


def write_clip(
    path: Path,
    *,
    sample_rate: int = 16_000,
    seconds: float = DURATION,
    channels: int = 1,
    format: str | None = None,
) -> Path:
    """One synthetic clip, seeded by its file name."""
    data = synth(seconds, sample_rate, channels=channels, seed=seed_for(Path(path).name))
    return write(path, data, sample_rate, format=format)


def wav_bytes(data: np.ndarray, sample_rate: int, *, format: str = "WAV") -> bytes:
    """Encoded file content in memory (for loading from bytes and for truncation)."""
    buf = io.BytesIO()
    sf.write(buf, data, sample_rate, format=format, subtype=_SUBTYPES.get(format))
    return buf.getvalue()


def _tree(root: Path, files: list[str], **kw) -> Path:
    root = Path(root)
    for rel in files:
        write_clip(root / rel, **kw)
    return root


# --------------------------------------------------------------------------- corpora

# RAVDESS (not requested as a generated tree, but handy for fast reader tests).
RAVDESS_FILES = [
    "Actor_01/03-01-01-01-01-01-01.wav",  # neutral, male
    "Actor_01/03-01-05-02-02-02-01.wav",  # angry, strong, statement 02, repetition 02
    "Actor_02/03-01-02-01-01-01-02.wav",  # calm, female
    "Actor_24/03-01-08-02-01-02-24.wav",  # surprised, female
]
RAVDESS_SONG_FILES = ["Actor_01/03-02-03-01-01-01-01.wav"]  # vocal channel 02: song


def make_ravdess(root: Path, *, song: bool = True) -> Path:
    """RAVDESS speech files (48 kHz), plus one song file unless ``song=False``."""
    return _tree(root, RAVDESS_FILES + (RAVDESS_SONG_FILES if song else []), sample_rate=48_000)


CREMA_D_FILES = [
    "AudioWAV/1001_DFA_ANG_XX.wav",  # 1001 male
    "AudioWAV/1001_IEO_HAP_LO.wav",
    "AudioWAV/1002_TIE_SAD_HI.wav",  # 1002 female
    "AudioWAV/1050_WSI_FEA_MD.wav",  # 1050 male
    "AudioWAV/1089_IWL_DIS_XX.wav",  # 1089 female
    "AudioWAV/1091_ITS_NEU_XX.wav",  # 1091 female
]
# Sex of those actors as listed in the real VideoDemographics.csv.
CREMA_D_SEX = {"1001": "male", "1002": "female", "1050": "male", "1089": "female", "1091": "female"}


def make_crema_d(root: Path, *, demographics: bool = True) -> Path:
    """CREMA-D ``AudioWAV/AAAA_SSS_EEE_LL.wav`` at 16 kHz, with VideoDemographics.csv in the root."""
    root = _tree(root, CREMA_D_FILES)
    if demographics:
        target = root / "VideoDemographics.csv"
        if CREMA_D_DEMOGRAPHICS.is_file():
            shutil.copyfile(CREMA_D_DEMOGRAPHICS, target)
        else:  # same columns and values as the official file, for the actors used here
            with target.open("w", newline="") as fh:
                w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
                w.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
                for actor, sex in CREMA_D_SEX.items():
                    w.writerow([int(actor), 30, sex.title(), "Unknown", "Not Hispanic"])
    return root


TESS_FILES = [
    "OAF_angry/OAF_back_angry.wav",
    "OAF_disgust/OAF_bar_disgust.wav",
    "OAF_Fear/OAF_base_fear.wav",
    "OAF_happy/OAF_bath_happy.wav",
    "OAF_neutral/OAF_bean_neutral.wav",
    "OAF_Pleasant_surprise/OAF_dog_ps.wav",
    "OAF_Sad/OAF_beg_sad.wav",
    "YAF_angry/YAF_chair_angry.wav",
    "YAF_fear/YAF_cheek_fear.wav",
    "YAF_pleasant_surprised/YAF_dog_ps.wav",
    "YAF_sad/YAF_chief_sad.wav",
]
TESS_AIFF = "YAF_angry/YAF_chain_angry.wav"  # AIFF content under a .wav name (release quirk)
TESS_96K = "YAF_happy/YAF_check_happy.wav"  # the one 96 kHz file (release quirk)
TESS_SAMPLE_RATE = 24_414


def make_tess(root: Path) -> Path:
    """TESS with varying folder names, one AIFF named .wav and one 96 kHz file."""
    root = _tree(root, TESS_FILES, sample_rate=TESS_SAMPLE_RATE)
    write_clip(root / TESS_AIFF, sample_rate=TESS_SAMPLE_RATE, format="AIFF")
    write_clip(root / TESS_96K, sample_rate=96_000)
    return root


EMODB_FILES = [
    "wav/03a01Fa.wav",  # 03 male, happiness
    "wav/08b10Lc.wav",  # 08 female, boredom
    "wav/09a05Na.wav",  # neutral
    "wav/10b03Ad.wav",  # fear
    "wav/11b09Ea.wav",  # disgust
    "wav/13a02Tb.wav",  # sadness
    "wav/16a07Wa.wav",  # anger
]


def make_emodb(root: Path) -> Path:
    """EMO-DB ``wav/SSTTTEV.wav`` at 16 kHz."""
    return _tree(root, EMODB_FILES)


EMOVO_FILES = [
    "f1/dis-f1-b1.wav",
    "f1/gio-f1-d2.wav",
    "f2/rab-f2-b3.wav",
    "f3/tri-f3-n1.wav",
    "m1/neu-m1-n5.wav",
    "m2/sor-m2-l1.wav",
    "m3/pau-m3-l4.wav",
]


def make_emovo(root: Path) -> Path:
    """EMOVO ``f1/dis-f1-b1.wav``: stereo, 48 kHz."""
    return _tree(root, EMOVO_FILES, sample_rate=48_000, channels=2)


URDU_FILES = [
    "Angry/SM1_F10_A010.wav",
    "Angry/SF1_F2_A011.wav",
    "Happy/SM1_F3_H005.wav",
    "Neutral/SF1_F4_N020.wav",
    "Sad/SM12_F1_S001.wav",
]


def make_urdu(root: Path) -> Path:
    """URDU ``Emotion/SG#_F#_E###.wav`` at 44.1 kHz; SM1 and SF1 are different speakers."""
    return _tree(root, URDU_FILES, sample_rate=44_100)


SAVEE_NESTED_FILES = [
    "DC/a01.wav",
    "DC/d05.wav",
    "JE/sa03.wav",
    "JE/f02.wav",
    "JK/n30.wav",
    "KL/su15.wav",
    "KL/h11.wav",
]


def make_savee_nested(root: Path) -> Path:
    """SAVEE per-speaker release ``DC/a01.wav`` at 44.1 kHz."""
    return _tree(root, SAVEE_NESTED_FILES, sample_rate=44_100)


NEMO_FILES = [
    "samples/EB0_anger_12.wav",
    "samples/KS0_fear_1.wav",
    "samples/MP0_happiness_3.wav",
    "samples/IC0_neutral_40.wav",
    "samples/WR0_sadness_7.wav",
    "samples/SM0_surprised_2.wav",
]
# speaker -> (gender, age) as the real data.tsv lists them
NEMO_SPEAKERS = {"EB0": ("female", 27), "IC0": ("female", 28), "KS0": ("male", 23), "MP0": ("male", 24),
                 "SM0": ("male", 24), "WR0": ("male", 23)}
NEMO_EMOTIONS = {"anger": "angry", "fear": "fearful", "happiness": "happy", "neutral": "neutral",
                 "sadness": "sad", "surprised": "surprised"}


def nemo_text(stem: str) -> str:
    """The sentence data.tsv gives a generated file (non-ASCII on purpose: the file is UTF-8)."""
    return f"Zażółć gęślą jaźń {stem.rsplit('_', 1)[1]}."


def write_nemo_tsv(path: Path, stems: list[str]) -> Path:
    """nEMO's data.tsv as released: tab-separated, CRLF, speaker ids padded with spaces, `.wav` file ids."""
    lines = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"]
    for stem in stems:
        speaker, emotion, _ = stem.split("_")
        gender, age = NEMO_SPEAKERS[speaker]
        text = nemo_text(stem)
        lines.append(f"{stem}.wav\t{emotion}\t{text}\t{text.lower().rstrip('.')}\t{speaker:>11}\t{gender}\t{age}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def make_nemo(root: Path, *, tsv: bool = True) -> Path:
    """nEMO ``samples/SPK_emotion_N.wav`` at 24 kHz, with data.tsv in the root unless ``tsv=False``."""
    root = _tree(root, NEMO_FILES, sample_rate=24_000)
    if tsv:
        write_nemo_tsv(root / "data.tsv", [Path(f).stem for f in NEMO_FILES])
    return root


# --------------------------------------------------------------------------- misnamed files

# Names that break the scheme in folders that state speaker and emotion: relative path ->
# (speaker code, corpus label, unified emotion, the folder(s) they come from).
TESS_MISNAMED = {
    "OAF_angry/OAF_bakc-angry.wav": ("OAF", "angry", "angry", "OAF_angry"),  # typo and a dash
    "YAF_pleasant_surprised/YAF_dgo.wav": ("YAF", "ps", "surprised", "YAF_pleasant_surprised"),  # no emotion field
    "OAF_Fear/OAF_base fear.wav": ("OAF", "fear", "fearful", "OAF_Fear"),
}
# Names that break the scheme where the folders do not say (or disagree): relative path -> reason fragment.
TESS_AMBIGUOUS = {
    "OAF_angry/YAF_angry/OAF_bakc-angry.wav": "disagree on the speaker",  # OAF from one folder, YAF from the other
    "OAF_extra/OAF_bakc.wav": "states its speaker or emotion",  # `OAF_extra` names no emotion: not a TESS folder
    "misc/OAF_back.wav": "states its speaker or emotion",
}


def make_tess_misnamed(root: Path) -> Path:
    """The TESS tree plus misnamed files: recoverable ones (TESS_MISNAMED) and ambiguous ones (TESS_AMBIGUOUS)."""
    root = make_tess(root)
    return _tree(root, list(TESS_MISNAMED) + list(TESS_AMBIGUOUS), sample_rate=TESS_SAMPLE_RATE)


# RAVDESS re-arranged by emotion, speaker folders inside emotion folders (as some copies circulate).
RAVDESS_BY_EMOTION_FILES = [
    "angry/Actor_01/03-01-05-01-01-01-01.wav",
    "sad/Actor_02/03-01-04-01-01-01-02.wav",
    "happy/Actor_03/03-01-03-02-02-01-03.wav",
]
RAVDESS_MISNAMED = {
    "angry/Actor_01/03-01-05-01-01-02-1.wav": ("01", "05", "angry", "Actor_01", "angry"),  # actor field cut short
    "Sad/Actor_04/03-01-04-01-1-01-04.wav": ("04", "04", "sad", "Actor_04", "Sad"),
}
RAVDESS_AMBIGUOUS = {
    "happy/Actor_03/sad/03-01-03-01-01-1-03.wav": "disagree on the emotion",  # happy from one folder, sad from another
    "angry/Actor_05/Actor_06/03-01-05-01-1-01-05.wav": "disagree on the speaker",
    "angry/03-01-05-01-01-1-07.wav": "states its speaker",  # emotion only
    "Actor_08/03-01-05-01-01-1-08.wav": "states its emotion",  # speaker only
}


def make_ravdess_by_emotion(root: Path) -> Path:
    """RAVDESS as `emotion/Actor_NN/name.wav` (48 kHz) with misnamed and ambiguous files."""
    files = RAVDESS_BY_EMOTION_FILES + list(RAVDESS_MISNAMED) + list(RAVDESS_AMBIGUOUS)
    return _tree(root, files, sample_rate=48_000)


# label folder name -> unified emotion, for the folder-per-label tree
LABEL_FOLDER_FILES = {
    "happy/x.wav": "happy",
    "Sad/y.flac": "sad",
    "anger/z.ogg": "angry",
    "session1/Fear/w.AIFF": "fearful",  # nested, upper-case extension
}


def make_label_folders(root: Path) -> Path:
    """Audio in folders named after the emotion (any case, synonyms, nested), mixed formats."""
    return _tree(root, list(LABEL_FOLDER_FILES))


# manifest rows: (relative audio path, label, speaker)
MANIFEST_ROWS = [
    ("clips/a.wav", "happy", "spk1"),
    ("clips/b.flac", "Sadness", "spk1"),
    ("clips/c.wav", "joy", "spk2"),
    ("clips/d.wav", "angry", ""),
]
MANIFEST_BAD_ROWS = [
    ("clips/e.wav", "bogus", "spk2"),  # unknown label -> skipped, with the line number
    ("clips/missing.wav", "sad", "spk2"),  # no such file -> skipped
]


def make_manifest(root: Path, *, bad_rows: bool = False) -> Path:
    """A CSV manifest ``path,label,speaker`` (relative paths) with its clips; returns the CSV path."""
    root = Path(root)
    rows = MANIFEST_ROWS + (MANIFEST_BAD_ROWS if bad_rows else [])
    for rel, _, _ in rows:
        if "missing" not in rel:
            write_clip(root / rel)
    csv_path = root / "manifest.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "speaker"])
        w.writerows(rows)
    return csv_path


# --------------------------------------------------------------------------- broken input

# role -> file under the bad corpus root (RAVDESS names, so only hello.wav fails to parse)
BAD_FILES = {
    "good": "Actor_01/03-01-01-01-01-02-01.wav",
    "empty": "Actor_01/03-01-01-01-01-01-01.wav",
    "truncated": "Actor_01/03-01-02-01-01-01-01.wav",
    "text": "Actor_01/03-01-03-01-01-01-01.wav",
    "aiff": "Actor_01/03-01-04-01-01-01-01.wav",
    "rate96k": "Actor_01/03-01-05-01-01-01-01.wav",
    "stereo": "Actor_01/03-01-06-01-01-01-01.wav",
    "silent": "Actor_01/03-01-07-01-01-01-01.wav",
    "short": "Actor_01/03-01-08-01-01-01-01.wav",
    "unparseable": "Actor_01/hello.wav",
}
BAD_NON_AUDIO = ["README.txt", "Actor_01/03-01-01-01-01-01-01.lab"]
# Files a reader can not open at all (must be skipped with a reason).
BAD_UNREADABLE = ("empty", "truncated", "text")
# Files whose content is valid audio despite their quirk (must become rows).
BAD_READABLE = ("good", "aiff", "rate96k", "stereo")


def truncated_header(sample_rate: int = 16_000) -> bytes:
    """The first 20 bytes of a valid wav: cut inside the 'fmt ' chunk."""
    return wav_bytes(synth(0.1, sample_rate), sample_rate)[:20]


def header_only(sample_rate: int = 16_000) -> bytes:
    """The 44-byte header of a wav whose data was cut off (declares samples that aren't there)."""
    return wav_bytes(synth(0.5, sample_rate), sample_rate)[:44]


def make_bad_corpus(root: Path) -> Path:
    """A RAVDESS-named tree of problem files (see BAD_FILES), plus non-audio files to be ignored."""
    root = Path(root)
    p = {role: root / rel for role, rel in BAD_FILES.items()}
    (root / "Actor_01").mkdir(parents=True, exist_ok=True)
    write_clip(p["good"], sample_rate=48_000)
    p["empty"].write_bytes(b"")
    p["truncated"].write_bytes(truncated_header(48_000))
    p["text"].write_text("this is not audio, just a text file with a .wav name\n" * 4)
    write_clip(p["aiff"], sample_rate=48_000, format="AIFF")
    write_clip(p["rate96k"], sample_rate=96_000)
    write_clip(p["stereo"], sample_rate=48_000, channels=2)
    write(p["silent"], np.zeros(int(DURATION * 48_000), dtype=np.float32), 48_000)
    write_clip(p["short"], sample_rate=48_000, seconds=0.1)
    write_clip(p["unparseable"], sample_rate=48_000)
    (root / "README.txt").write_text("RAVDESS-like tree with broken files for tests\n")
    (root / BAD_NON_AUDIO[1]).write_text("0 1000000 neutral\n")
    return root


# name -> generator of a tree whose corpus auto-detection must find `name`
GENERATORS = {
    "ravdess": make_ravdess,
    "crema_d": make_crema_d,
    "tess": make_tess,
    "emodb": make_emodb,
    "emovo": make_emovo,
    "urdu": make_urdu,
    "savee": make_savee_nested,
    "nemo": make_nemo,
    "folders": make_label_folders,
}


# --------------------------------------------------------------------------- small training sets

# Partials per emotion, so a classifier has something to learn from the synthetic clips.
_EMOTION_PARTIALS = {
    "neutral": (150.0, 300.0),
    "happy": (330.0, 660.0, 990.0),
    "sad": (110.0, 220.0),
    "angry": (500.0, 1000.0, 1500.0, 2000.0),
    "fearful": (420.0, 840.0),
    "surprised": (700.0, 1400.0),
}


def make_speaker_manifest(
    root: Path,
    *,
    speakers: int = 6,
    emotions: tuple[str, ...] = ("happy", "sad", "angry"),
    per_class: int = 2,
    speaker_column: bool = True,
    seconds: float = DURATION,
) -> Path:
    """A manifest of synthetic 16 kHz clips, ``per_class`` per (speaker, emotion); returns the CSV path.

    Speaker ``s01`` ... ``sNN``; the emotion decides the partials (learnable), the speaker
    shifts the pitch a little, and the file name seeds the phases and the noise.
    """
    root = Path(root)
    rows = []
    for s in range(1, speakers + 1):
        for emotion in emotions:
            for k in range(per_class):
                rel = f"clips/s{s:02d}_{emotion}_{k}.wav"
                shift = 1.0 + 0.03 * s
                data = synth(seconds, 16_000, seed=seed_for(rel),
                             partials=tuple(f * shift for f in _EMOTION_PARTIALS[emotion]))
                write(root / rel, data, 16_000)
                rows.append((rel, emotion, f"s{s:02d}"))
    csv_path = root / "manifest.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "speaker"] if speaker_column else ["path", "label"])
        w.writerows(rows if speaker_column else [r[:2] for r in rows])
    return csv_path


RAVDESS_CODES = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                 "07": "disgust", "08": "surprised"}
SAVEE_PREFIXES = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad",
                  "su": "surprised"}


def real_ravdess_files(
    actors: tuple[int, ...] = (1, 2, 3, 4),
    emotions: tuple[str, ...] = ("neutral", "happy", "sad", "angry"),
    per_class: int = 3,
) -> list[tuple[Path, str, str]]:
    """(path, emotion, actor) of real RAVDESS files: ``per_class`` per actor and emotion, in name order."""
    out = []
    for a in actors:
        files = sorted((RAVDESS_ROOT / f"Actor_{a:02d}").glob("03-01-*.flac"))
        for emotion in emotions:
            mine = [f for f in files if RAVDESS_CODES[f.name.split("-")[2]] == emotion][:per_class]
            out += [(f, emotion, f"{a:02d}") for f in mine]
    return out


def real_savee_files(
    speakers: tuple[str, ...] = ("DC", "JE"),
    emotions: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprised"),
    per_class: int = 2,
) -> list[tuple[Path, str, str]]:
    """(path, emotion, speaker) of real SAVEE files (``SS_Enn.flac``)."""
    inverse = {v: k for k, v in SAVEE_PREFIXES.items()}
    out = []
    for s in speakers:
        for emotion in emotions:
            pre = inverse[emotion]
            mine = sorted(f for f in SAVEE_ROOT.glob(f"{s}_{pre}[0-9][0-9].flac"))[:per_class]
            out += [(f, emotion, s) for f in mine]
    return out


def write_manifest(csv_path: Path, rows: list[tuple[Path, str, str]], *, speaker_column: bool = True) -> Path:
    """A manifest of absolute paths to existing files (nothing copied); returns the CSV path."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "speaker"] if speaker_column else ["path", "label"])
        for path, label, speaker in rows:
            w.writerow([str(path), label, speaker] if speaker_column else [str(path), label])
    return csv_path


def link_ravdess_tree(root: Path, rows: list[tuple[Path, str, str]]) -> Path:
    """A RAVDESS-layout folder of symlinks to real files (nothing copied), so the ravdess reader
    (and the licence it implies) applies to a small subset; returns the tree root."""
    root = Path(root)
    for path, _, _ in rows:
        link = root / path.parent.name / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    return root


# --------------------------------------------------------------------------- entries that are not plain files

# role -> entry under the RAVDESS tree of make_link_tree (audio names, so a scan must account for each)
LINK_TREE = {
    "fifo": "Actor_01/03-01-03-01-01-01-01.wav",  # a named pipe
    "dangling": "Actor_01/03-01-04-01-01-01-01.wav",  # a link to a file that is not there
    "self_loop": "Actor_02/03-01-06-01-01-01-02.wav",  # a link to itself
    "linked_speaker": "Actor_05/03-01-07-01-01-01-05.wav",  # a real file inside a symlinked speaker folder
}


def make_link_tree(root: Path) -> Path:
    """make_ravdess (no song) plus a FIFO, a dangling link, a self-referencing link, a symlinked speaker folder
    (its files live in ``root.parent / 'store'``), a folder link back to the root (a loop), and a dangling
    non-audio link (to be ignored)."""
    import os

    root = make_ravdess(Path(root), song=False)
    e = {role: root / rel for role, rel in LINK_TREE.items()}
    os.mkfifo(e["fifo"])
    e["dangling"].symlink_to(root / "Actor_01" / "gone.wav")
    e["self_loop"].symlink_to(e["self_loop"].name)
    store = root.parent / "store" / "Actor_05"
    write_clip(store / e["linked_speaker"].name, sample_rate=48_000)
    (root / "Actor_05").symlink_to(store, target_is_directory=True)
    (root / "Actor_02" / "back_to_root").symlink_to(root, target_is_directory=True)
    (root / "notes.txt").symlink_to(root / "nowhere.txt")
    return root

# --------------------------------------------------------------------------- damaged and streamed audio


def streamed_flac(data: np.ndarray, sample_rate: int = 16_000) -> bytes:
    """A valid FLAC whose STREAMINFO gives no length, as a streaming encoder writes it
    (``ffmpeg -i x.flac -f flac pipe:1``): total_samples and the MD5 left at 0. No ffmpeg needed.

    STREAMINFO is the first metadata block (after ``fLaC`` and its 4-byte block header, so its
    34 bytes start at 8): sample rate 20 bits, channels 3, bits per sample 5, then total_samples
    36 bits (the low nibble of byte 13 and bytes 14..17), then the MD5 (bytes 18..33).
    """
    return forget_flac_length(wav_bytes(data, sample_rate, format="FLAC"))


@functools.lru_cache(maxsize=1)
def decode_bomb(channels: int = 8, seconds: int = 150) -> bytes:
    """`channels` at 384 kHz, `seconds` of digital silence as FLAC: ~0.5 MB that decodes to 460.8 M samples
    (1.8 GB as float32). Within the upload cap (25 MB) and the duration cap (600 s)."""
    buf = io.BytesIO()
    second = np.zeros((384_000, channels), dtype=np.int16)
    with sf.SoundFile(buf, "w", samplerate=384_000, channels=channels, format="FLAC", subtype="PCM_16") as f:
        for _ in range(seconds):
            f.write(second)
    return buf.getvalue()


def forget_flac_length(flac: bytes) -> bytes:
    """The FLAC ``flac`` with its STREAMINFO's total_samples and MD5 zeroed (see ``streamed_flac``)."""
    raw = bytearray(flac)
    assert raw[:4] == b"fLaC" and raw[4] & 0x7F == 0 and int.from_bytes(raw[5:8], "big") == 34
    info = 8
    raw[info + 13] &= 0xF0
    raw[info + 14 : info + 18] = bytes(4)
    raw[info + 18 : info + 34] = bytes(16)
    return bytes(raw)


def wav_with_sizes(data: np.ndarray, sample_rate: int = 16_000, *, riff: int | None = None,
                   data_size: int | None = None) -> bytes:
    """A 16-bit WAV whose RIFF and/or data chunk sizes are overwritten (what streaming writers leave)."""
    raw = bytearray(wav_bytes(data, sample_rate))
    assert raw[36:40] == b"data"  # soundfile writes the canonical 44-byte header
    if riff is not None:
        raw[4:8] = riff.to_bytes(4, "little")
    if data_size is not None:
        raw[40:44] = data_size.to_bytes(4, "little")
    return bytes(raw)


def truncated_wav(seconds: float = 4.0, keep_bytes: int = 20_000, sample_rate: int = 16_000) -> bytes:
    """The first ``keep_bytes`` of a ``seconds`` long 16-bit mono WAV: the header promises the whole clip."""
    return wav_bytes(synth(seconds, sample_rate, seed=seed_for("truncated")), sample_rate)[:keep_bytes]


# Bad inputs for the loader and the real CLI: name -> (file name, the AudioProblem value audio.load
# raises, or None for a valid file that must decode).
BAD_INPUTS = {
    "empty": ("empty.wav", "empty"),
    "text": ("text.wav", "unrecognised"),
    "truncated": ("truncated.wav", "truncated"),
    "header_only": ("header_only.wav", "empty"),
    "streamed_flac": ("streamed.flac", None),
    "rate_7hz": ("seven_hz.wav", "bad_sample_rate"),
    "nan": ("nan.wav", "invalid_samples"),
    "silence": ("silence.wav", "silent"),
    "short": ("short.wav", "too_short"),
    "folder": ("folder.wav", "not_found"),  # a folder named like audio (predict expands it and finds none)
}


def make_bad_inputs(root: Path) -> dict[str, Path]:
    """Write every BAD_INPUTS case under ``root`` (generated here, nothing copied); returns name -> path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    p = {name: root / file for name, (file, _) in BAD_INPUTS.items()}
    p["empty"].write_bytes(b"")
    p["text"].write_text("this is not audio, just a text file with a .wav name\n" * 5)
    p["truncated"].write_bytes(truncated_wav())
    p["header_only"].write_bytes(header_only())
    p["streamed_flac"].write_bytes(streamed_flac(synth(2.0, 16_000, seed=seed_for("streamed"))))
    p["rate_7hz"].write_bytes(wav_bytes(synth(8000 / 2 / 7, 7, seed=1, partials=(1.0,)), 7))  # ~8 KB "571 s"
    nan = synth(1.0, 16_000, seed=seed_for("nan"))
    nan[1000:1010] = np.nan
    write(p["nan"], nan, 16_000, subtype="FLOAT")
    write(p["silence"], np.zeros(16_000, dtype=np.float32), 16_000)
    write_clip(p["short"], seconds=0.1)
    p["folder"].mkdir()
    return p


# --------------------------------------------------------------------------- a real server in a thread


@contextlib.contextmanager
def serving(app, settings=None):
    """uvicorn serving ``app`` on a free loopback port in a daemon thread, configured as ``serkit serve``
    configures it (``uvicorn_config``); yields the port and stops the server on exit."""
    import threading
    import time

    import uvicorn

    from serkit.server import ServerSettings
    from serkit.server.app import uvicorn_config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held until uvicorn takes the socket over
    port = sock.getsockname()[1]
    config = uvicorn_config(app, host="127.0.0.1", port=port, settings=settings or ServerSettings(),
                            log_level="warning")
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def garbage_bundle(root: Path) -> Path:
    """A folder that claims to be a bundle but whose config.json is not JSON."""
    b = Path(root) / "garbage_bundle"
    b.mkdir()
    (b / "config.json").write_text("{this is not json")
    (b / "labels.json").write_text("[]")
    return b
