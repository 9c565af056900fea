"""Corpus readers, auto-detection and merging: synthetic trees for every corpus, real RAVDESS and SAVEE."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import fixtures as fx
from serkit import audio
from serkit.corpora import COLUMNS, detect, load_dataset, scan
from serkit.corpora.readers import Ravdess
from serkit.errors import AudioError, CorpusError, DataError, UnknownNameError
from serkit.labels import EMOTIONS

needs_real = pytest.mark.skipif(
    fx.REAL_DATA_SKIPPABLE and not (fx.RAVDESS_ROOT.is_dir() and fx.SAVEE_ROOT.is_dir()),
    reason=f"real RAVDESS/SAVEE not in {fx.SHARED_DATA}",
)

LANGUAGE = {"ravdess": "en", "crema_d": "en", "tess": "en", "savee": "en", "emodb": "de", "emovo": "it", "urdu": "ur", "folders": ""}
FILES = {
    "ravdess": fx.RAVDESS_FILES,  # the song file is skipped by default
    "crema_d": fx.CREMA_D_FILES,
    "tess": fx.TESS_FILES + [fx.TESS_AIFF, fx.TESS_96K],
    "emodb": fx.EMODB_FILES,
    "emovo": fx.EMOVO_FILES,
    "urdu": fx.URDU_FILES,
    "savee": fx.SAVEE_NESTED_FILES,
    "folders": list(fx.LABEL_FOLDER_FILES),
}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    """One generated tree per corpus, shared by the read-only tests of this module."""
    base = tmp_path_factory.mktemp("corpora")
    return {name: gen(base / name) for name, gen in fx.GENERATORS.items()}


@pytest.fixture(scope="module")
def scanned(trees) -> dict:
    return {name: scan(root) for name, root in trees.items()}


def rows(corpus) -> dict[str, dict]:
    """Rows keyed by 'parent folder/file stem' (unique in every generated tree)."""
    out = {}
    for r in corpus.table.to_dict("records"):
        p = Path(r["path"])
        out[f"{p.parent.name}/{p.stem}"] = r
    return out


# --------------------------------------------------------------------------- every reader


@pytest.mark.parametrize("name", list(fx.GENERATORS))
def test_detect_picks_the_right_corpus(trees, name):
    assert detect(trees[name]) == name


@pytest.mark.parametrize("name", list(fx.GENERATORS))
def test_every_file_becomes_one_row(scanned, trees, name):
    c = scanned[name]
    assert c.name == name
    assert list(c.table.columns[: len(COLUMNS)]) == list(COLUMNS)
    expected = sorted(str(trees[name] / rel) for rel in FILES[name])
    assert sorted(c.table["path"]) == expected
    assert set(c.table["corpus"]) == {name}
    assert set(c.table["language"]) == {LANGUAGE[name]}
    assert set(c.table["emotion"]) <= set(EMOTIONS)
    # 0.5 s each, including TESS' AIFF-named-.wav and 96 kHz quirks and EMOVO's stereo files
    assert c.table["duration"].tolist() == pytest.approx([fx.DURATION] * len(expected), abs=1e-3)
    if name == "ravdess":
        assert [Path(s.path).name for s in c.skipped] == [Path(fx.RAVDESS_SONG_FILES[0]).name]
    else:
        assert c.skipped == []


@pytest.mark.parametrize("name", [n for n in fx.GENERATORS if n != "folders"])
def test_speakers_are_corpus_prefixed(scanned, name):
    speakers = scanned[name].speakers
    assert speakers and all(s.startswith(f"{name}:") for s in speakers)
    assert scanned[name].table["speaker"].notna().all()


def test_ravdess_fields(scanned):
    r = rows(scanned["ravdess"])
    angry = r["Actor_01/03-01-05-02-02-02-01"]
    assert (angry["speaker"], angry["gender"], angry["label"], angry["emotion"]) == ("ravdess:01", "male", "05", "angry")
    assert (angry["intensity"], angry["text"], angry["repetition"], angry["vocal_channel"]) == ("strong", "02", "02", "speech")
    assert r["Actor_02/03-01-02-01-01-01-02"]["emotion"] == "calm"
    assert r["Actor_02/03-01-02-01-01-01-02"]["gender"] == "female"
    assert r["Actor_24/03-01-08-02-01-02-24"]["speaker"] == "ravdess:24"
    assert r["Actor_24/03-01-08-02-01-02-24"]["emotion"] == "surprised"


def test_ravdess_song_files_skipped_by_default_with_reason(tmp_path):
    root = fx.make_ravdess(tmp_path)
    song = str(root / fx.RAVDESS_SONG_FILES[0])
    c = scan(root)
    assert song not in set(c.table["path"])
    [skip] = c.skipped
    assert skip.path == song and "song" in skip.reason
    with_song = Ravdess(include_song=True).read(root)
    assert song in set(with_song.table["path"]) and with_song.skipped == []
    assert with_song.table.set_index("path").loc[song, "vocal_channel"] == "song"


def test_crema_d_fields_and_gender_from_demographics(scanned):
    c = scanned["crema_d"]
    r = rows(c)
    ang = r["AudioWAV/1001_DFA_ANG_XX"]
    assert (ang["speaker"], ang["gender"], ang["label"], ang["emotion"]) == ("crema_d:1001", "male", "ANG", "angry")
    assert (ang["text"], ang["intensity"]) == ("DFA", "unspecified")
    sad = r["AudioWAV/1002_TIE_SAD_HI"]
    assert (sad["speaker"], sad["gender"], sad["emotion"], sad["text"], sad["intensity"]) == (
        "crema_d:1002", "female", "sad", "TIE", "high")
    assert r["AudioWAV/1001_IEO_HAP_LO"]["intensity"] == "low"
    assert r["AudioWAV/1050_WSI_FEA_MD"]["emotion"] == "fearful"
    assert r["AudioWAV/1050_WSI_FEA_MD"]["intensity"] == "medium"
    assert r["AudioWAV/1089_IWL_DIS_XX"]["emotion"] == "disgust"
    assert r["AudioWAV/1091_ITS_NEU_XX"]["emotion"] == "neutral"
    # real actors of VideoDemographics.csv: 1001 and 1050 male, 1002, 1089 and 1091 female
    by_speaker = dict(zip(c.table["speaker"], c.table["gender"]))
    assert by_speaker == {f"crema_d:{a}": sex for a, sex in fx.CREMA_D_SEX.items()}


def test_crema_d_demographics_found_above_audiowav_and_optional(tmp_path):
    root = fx.make_crema_d(tmp_path / "with")
    inner = scan(root / "AudioWAV", corpus="crema_d")  # the CSV sits in the folder above
    assert dict(zip(inner.table["speaker"], inner.table["gender"]))["crema_d:1002"] == "female"
    bare = scan(fx.make_crema_d(tmp_path / "without", demographics=False))
    assert len(bare.table) == len(fx.CREMA_D_FILES)
    assert bare.table["gender"].isna().all()


def test_tess_labels_from_file_name_and_quirks(scanned, trees):
    c = scanned["tess"]
    r = rows(c)
    assert set(c.speakers) == {"tess:OAF", "tess:YAF"}
    assert set(c.table["gender"]) == {"female"}
    ps_old, ps_young = r["OAF_Pleasant_surprise/OAF_dog_ps"], r["YAF_pleasant_surprised/YAF_dog_ps"]
    assert (ps_old["label"], ps_old["emotion"], ps_old["speaker"], ps_old["text"]) == ("ps", "surprised", "tess:OAF", "dog")
    assert (ps_young["emotion"], ps_young["speaker"]) == ("surprised", "tess:YAF")
    assert (r["OAF_Fear/OAF_base_fear"]["label"], r["OAF_Fear/OAF_base_fear"]["emotion"]) == ("fear", "fearful")
    assert r["OAF_angry/OAF_back_angry"]["text"] == "back"
    assert (ps_old["age"], ps_young["age"]) == (64, 26)
    # the AIFF-named-.wav file and the 96 kHz file are rows like the others
    aiff = str(trees["tess"] / fx.TESS_AIFF)
    hi = str(trees["tess"] / fx.TESS_96K)
    table = c.table.set_index("path")
    assert table.loc[aiff, "emotion"] == "angry" and table.loc[hi, "emotion"] == "happy"
    assert audio.info(aiff).sample_rate == fx.TESS_SAMPLE_RATE and audio.info(hi).sample_rate == 96_000


def test_emodb_fields(scanned):
    c = scanned["emodb"]
    r = rows(c)
    bored = r["wav/08b10Lc"]
    assert (bored["speaker"], bored["gender"], bored["label"], bored["emotion"]) == ("emodb:08", "female", "L", "boredom")
    assert (bored["text"], bored["version"]) == ("b10", "c")
    happy = r["wav/03a01Fa"]
    assert (happy["speaker"], happy["gender"], happy["emotion"], happy["text"]) == ("emodb:03", "male", "happy", "a01")
    expected = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
    assert dict(zip(c.table["label"], c.table["emotion"])) == expected
    assert dict(zip(c.table["speaker"], c.table["gender"]))["emodb:10"] == "male"
    assert dict(zip(c.table["speaker"], c.table["gender"]))["emodb:13"] == "female"


def test_emovo_fields(scanned, trees):
    c = scanned["emovo"]
    expected = {"dis": "disgust", "gio": "happy", "neu": "neutral", "pau": "fearful", "rab": "angry", "sor": "surprised", "tri": "sad"}
    assert dict(zip(c.table["label"], c.table["emotion"])) == expected
    r = rows(c)
    dis = r["f1/dis-f1-b1"]
    assert (dis["speaker"], dis["gender"], dis["text"]) == ("emovo:f1", "female", "b1")
    pau = r["m3/pau-m3-l4"]
    assert (pau["speaker"], pau["gender"], pau["emotion"], pau["text"]) == ("emovo:m3", "male", "fearful", "l4")
    assert audio.info(trees["emovo"] / fx.EMOVO_FILES[0]).channels == 2  # stereo 48 kHz, still read


def test_urdu_speaker_keeps_gender_letter(scanned):
    c = scanned["urdu"]
    r = rows(c)
    m, f = r["Angry/SM1_F10_A010"], r["Angry/SF1_F2_A011"]
    assert m["speaker"] == "urdu:SM1" and f["speaker"] == "urdu:SF1" and m["speaker"] != f["speaker"]
    assert (m["gender"], f["gender"]) == ("male", "female")
    assert (m["label"], m["emotion"], m["file_number"], m["index"]) == ("A", "angry", "10", "010")
    assert set(c.speakers) == {"urdu:SM1", "urdu:SF1", "urdu:SM12"}
    assert dict(zip(c.table["label"], c.table["emotion"])) == {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"}


def test_savee_per_speaker_layout(scanned):
    c = scanned["savee"]
    r = rows(c)
    assert (r["JE/sa03"]["speaker"], r["JE/sa03"]["label"], r["JE/sa03"]["emotion"], r["JE/sa03"]["text"]) == (
        "savee:JE", "sa", "sad", "sa03")
    assert (r["KL/su15"]["speaker"], r["KL/su15"]["emotion"]) == ("savee:KL", "surprised")
    assert (r["DC/a01"]["speaker"], r["DC/a01"]["emotion"]) == ("savee:DC", "angry")
    assert r["JK/n30"]["emotion"] == "neutral" and r["KL/h11"]["emotion"] == "happy"
    assert set(c.speakers) == {"savee:DC", "savee:JE", "savee:JK", "savee:KL"}
    assert set(c.table["gender"]) == {"male"}


def test_label_folders(scanned, trees):
    c = scanned["folders"]
    got = {Path(p).relative_to(trees["folders"]).as_posix(): e for p, e in zip(c.table["path"], c.table["emotion"])}
    assert got == fx.LABEL_FOLDER_FILES
    assert set(c.table["label"]) == {"happy", "Sad", "anger", "Fear"}  # the folder name as given
    assert c.table["speaker"].isna().all()


def test_manifest(tmp_path):
    csv_path = fx.make_manifest(tmp_path, bad_rows=True)
    assert detect(csv_path) == "manifest"
    c = scan(csv_path)
    by_path = c.table.set_index("path")
    a, b, cc, d = (str((tmp_path / rel).resolve()) for rel, _, _ in fx.MANIFEST_ROWS)
    assert sorted(by_path.index) == sorted([a, b, cc, d])
    assert by_path.loc[b, "emotion"] == "sad" and by_path.loc[b, "label"] == "Sadness"
    assert by_path.loc[cc, "emotion"] == "happy"
    assert by_path.loc[a, "speaker"] == "manifest:spk1" and by_path.loc[cc, "speaker"] == "manifest:spk2"
    assert pd.isna(by_path.loc[d, "speaker"])
    reasons = {Path(s.path).name: s.reason for s in c.skipped}
    assert set(reasons) == {"e.wav", "missing.wav"}
    assert "line 6" in reasons["e.wav"] and "bogus" in reasons["e.wav"]
    assert "not found" in reasons["missing.wav"]


# --------------------------------------------------------------------------- skipping


@pytest.mark.parametrize("name", list(fx.GENERATORS))
def test_unparseable_names_reported_non_audio_ignored(tmp_path, name):
    root = fx.GENERATORS[name](tmp_path / name)
    # beside the corpus' own files (for URDU: inside an emotion-named folder); at the top for label folders
    folder = root if name == "folders" else (root / FILES[name][0]).parent
    odd = fx.write_clip(folder / "misc_take2.wav")
    (root / "README.txt").write_text("notes\n")
    (root / "misc_take2.lab").write_text("0 1 x\n")
    (root / "._misc_take2.wav").write_bytes(b"\x00\x05\x16\x07")  # macOS AppleDouble litter
    assert detect(root) == name  # one stray file does not change the guess
    c = scan(root)
    reported = {s.path: s.reason for s in c.skipped}
    assert str(odd) in reported
    assert "naming scheme" in reported[str(odd)] and name in reported[str(odd)]
    assert str(odd) not in set(c.table["path"])
    everything = set(reported) | set(c.table["path"])
    assert not any(p.endswith((".txt", ".lab", ".csv")) or "/._" in p for p in everything)
    assert len(c.table) == len(FILES[name])


def test_bad_corpus(tmp_path):
    root = fx.make_bad_corpus(tmp_path)
    p = {role: str(root / rel) for role, rel in fx.BAD_FILES.items()}
    assert detect(root) == "ravdess"
    c = scan(root)
    reasons = {s.path: s.reason for s in c.skipped}
    assert set(reasons) >= {p[r] for r in fx.BAD_UNREADABLE} | {p["unparseable"]}
    assert "empty" in reasons[p["empty"]]
    assert "unreadable" in reasons[p["truncated"]]
    assert "not a recognised audio format" in reasons[p["text"]]
    assert "naming scheme" in reasons[p["unparseable"]]
    table = c.table.set_index("path")
    for role in fx.BAD_READABLE:  # AIFF named .wav, 96 kHz and stereo are valid audio
        assert p[role] in table.index, role
        assert table.loc[p[role], "duration"] == pytest.approx(fx.DURATION, abs=1e-3)
    # every audio-named file is accounted for exactly once, nothing else is
    assert set(reasons).isdisjoint(table.index)
    assert set(reasons) | set(table.index) == set(p.values())
    # header-valid but unusable content is still rejected by the loader, whichever side it is on
    for role in ("silent", "short"):
        with pytest.raises(AudioError):
            audio.load(p[role])
    summary = c.summary()
    assert summary["skipped"] == len(c.skipped) and summary["files"] == len(c.table)
    assert {e["path"] for e in summary["skipped_examples"]} == set(reasons)


def test_missing_folder_names_the_path(tmp_path):
    missing = tmp_path / "no_such_corpus"
    with pytest.raises(CorpusError, match="no_such_corpus"):
        scan(missing)
    with pytest.raises(CorpusError, match="no_such_corpus"):
        load_dataset([str(missing)])
    with pytest.raises(CorpusError, match="no_such_corpus"):
        scan(missing, corpus="savee")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("x")
    with pytest.raises(CorpusError, match="no audio files"):
        scan(empty)


def test_unknown_corpus_name(trees):
    with pytest.raises(UnknownNameError) as exc:
        scan(trees["emodb"], corpus="nosuch")
    assert "nosuch" in str(exc.value) and "emodb" in str(exc.value) and "crema_d" in str(exc.value)


def test_merge_generated_corpora(trees):
    ds = load_dataset([str(trees["emodb"]), str(trees["emovo"])], labels="intersection")
    # EMO-DB has boredom but no surprise, EMOVO the reverse
    assert ds.labels == ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert set(ds.table["emotion"]) == set(ds.labels)
    assert len(ds.table) == 12
    assert ds.has_speakers
    assert set(ds.table["corpus"]) == {"emodb", "emovo"}
    union = load_dataset([f"emodb={trees['emodb']}", f"emovo={trees['emovo']}"], labels="union")
    assert "boredom" in union.labels and "surprised" in union.labels and len(union.table) == 14


# --------------------------------------------------------------------------- real corpora


@pytest.fixture(scope="module")
def real():
    if fx.REAL_DATA_SKIPPABLE and not (fx.RAVDESS_ROOT.is_dir() and fx.SAVEE_ROOT.is_dir()):
        pytest.skip(f"real RAVDESS/SAVEE not in {fx.SHARED_DATA}")
    return {"ravdess": scan(fx.RAVDESS_ROOT), "savee": scan(fx.SAVEE_ROOT)}


@needs_real
def test_detect_real_corpora():
    assert detect(fx.RAVDESS_ROOT) == "ravdess"
    assert detect(fx.SAVEE_ROOT) == "savee"


@needs_real
def test_real_ravdess_summary(real):
    s = real["ravdess"].summary()
    assert s["corpus"] == "ravdess"
    assert (s["files"], s["speakers"], s["skipped"]) == (1440, 24, 0)
    assert s["emotions"] == {"neutral": 96, **{e: 192 for e in ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")}}
    assert s["per_speaker"] == {f"ravdess:{a:02d}": 60 for a in range(1, 25)}
    assert s["per_gender"] == {"female": 720, "male": 720}
    t = real["ravdess"].table
    assert t["duration"].between(2.0, 6.0).all()
    row = t.set_index("path").loc[str(fx.RAVDESS_ROOT / "Actor_01" / "03-01-05-02-01-01-01.flac")]
    assert (row["speaker"], row["gender"], row["emotion"], row["intensity"], row["text"]) == (
        "ravdess:01", "male", "angry", "strong", "01")
    assert set(t.loc[t["emotion"] == "neutral", "intensity"]) == {"normal"}


@needs_real
def test_real_savee_summary(real):
    s = real["savee"].summary()
    assert (s["files"], s["speakers"], s["skipped"]) == (480, 4, 0)
    assert s["emotions"] == {"neutral": 120, **{e: 60 for e in ("happy", "sad", "angry", "fearful", "disgust", "surprised")}}
    assert s["per_speaker"] == {"savee:DC": 120, "savee:JE": 120, "savee:JK": 120, "savee:KL": 120}
    assert s["per_gender"] == {"male": 480}
    row = real["savee"].table.set_index("path").loc[str(fx.SAVEE_ROOT / "JK_sa03.flac")]
    assert (row["speaker"], row["label"], row["emotion"], row["text"]) == ("savee:JK", "sa", "sad", "sa03")


SEVEN = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


@needs_real
def test_merge_real_intersection_and_union():
    specs = [str(fx.RAVDESS_ROOT), str(fx.SAVEE_ROOT)]
    inter = load_dataset(specs, labels="intersection", check_audio=False)
    assert inter.labels == SEVEN
    assert "calm" not in set(inter.table["emotion"])
    assert len(inter.table) == 1440 - 192 + 480
    assert inter.table["speaker"].nunique() == 28
    union = load_dataset(specs, labels="union", check_audio=False)
    assert union.labels == ["neutral", "calm"] + SEVEN[1:]
    assert len(union.table) == 1920


@needs_real
def test_merge_real_explicit_labels_and_name_specs():
    ds = load_dataset([f"ravdess={fx.RAVDESS_ROOT}", f"savee={fx.SAVEE_ROOT}"], labels="angry,sad", check_audio=False)
    assert set(ds.labels) == {"angry", "sad"} and len(ds.labels) == 2
    assert set(ds.table["emotion"]) == {"angry", "sad"}
    assert len(ds.table) == 2 * 192 + 2 * 60
    assert [c.name for c in ds.corpora] == ["ravdess", "savee"]


@needs_real
def test_merge_real_unknown_label_lists_valid_ones():
    with pytest.raises(UnknownNameError) as exc:
        load_dataset([str(fx.RAVDESS_ROOT), str(fx.SAVEE_ROOT)], labels="angry,grumpy", check_audio=False)
    msg = str(exc.value)
    assert "grumpy" in msg
    assert all(e in msg for e in EMOTIONS)


@needs_real
def test_name_spec_forcing_the_wrong_reader():
    with pytest.raises(DataError, match="no usable audio"):
        load_dataset([f"emodb={fx.SAVEE_ROOT}"], check_audio=False)
    with pytest.raises(UnknownNameError, match="nosuch"):
        load_dataset([f"nosuch={fx.SAVEE_ROOT}"], check_audio=False)
