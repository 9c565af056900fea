"""Corpus readers, auto-detection and merging: synthetic trees for every corpus, real RAVDESS and SAVEE."""

from __future__ import annotations

from pathlib import Path

import json
import os

import pandas as pd
import pytest

import fixtures as fx
from serkit import audio, cli
from serkit.corpora import COLUMNS, detect, load_dataset, scan
from serkit.corpora.readers import Ravdess
from serkit.io import EntryProblem, walk_files
from serkit.errors import AudioError, CorpusError, DataError, UnknownNameError
from serkit.labels import EMOTIONS

needs_nemo = pytest.mark.skipif(
    fx.REAL_DATA_SKIPPABLE and not (fx.SHARED_DATA / "nemo").is_dir(), reason=f"real nEMO not in {fx.SHARED_DATA}"
)
needs_real = pytest.mark.skipif(
    fx.REAL_DATA_SKIPPABLE and not (fx.RAVDESS_ROOT.is_dir() and fx.SAVEE_ROOT.is_dir()),
    reason=f"real RAVDESS/SAVEE not in {fx.SHARED_DATA}",
)

LANGUAGE = {"ravdess": "en", "crema_d": "en", "tess": "en", "savee": "en", "emodb": "de", "emovo": "it", "urdu": "ur",
            "nemo": "pl", "folders": ""}
FILES = {
    "ravdess": fx.RAVDESS_FILES,  # the song file is skipped by default
    "crema_d": fx.CREMA_D_FILES,
    "tess": fx.TESS_FILES + [fx.TESS_AIFF, fx.TESS_96K],
    "emodb": fx.EMODB_FILES,
    "emovo": fx.EMOVO_FILES,
    "urdu": fx.URDU_FILES,
    "savee": fx.SAVEE_NESTED_FILES,
    "nemo": fx.NEMO_FILES,
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
    assert c.recovered == [] and not c.table["recovered"].any()  # every name follows the scheme


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


def test_nemo_fields_and_data_tsv(scanned):
    c = scanned["nemo"]
    assert dict(zip(c.table["label"], c.table["emotion"])) == fx.NEMO_EMOTIONS
    for r in c.table.to_dict("records"):
        stem = Path(r["path"]).stem
        code, label, number = stem.split("_")
        assert (r["speaker"], r["label"], r["sentence"]) == (f"nemo:{code}", label, number)
        # padded speaker ids, CRLF line ends and UTF-8 text of data.tsv read as the release writes them
        assert (r["gender"], r["age"]) == fx.NEMO_SPEAKERS[code]
        assert r["text"] == fx.nemo_text(stem)
    assert set(c.table["language"]) == {"pl"}


def test_nemo_data_tsv_above_samples_and_optional(tmp_path):
    root = fx.make_nemo(tmp_path / "with")
    inner = scan(root / "samples", corpus="nemo")  # data.tsv sits in the folder above samples/
    assert dict(zip(inner.table["speaker"], inner.table["gender"]))["nemo:KS0"] == "male"
    assert detect(root / "samples") == "nemo"
    bare = scan(fx.make_nemo(tmp_path / "without", tsv=False))
    assert len(bare.table) == len(fx.NEMO_FILES) and bare.skipped == []
    assert bare.table["gender"].isna().all() and bare.table["text"].isna().all()
    assert bare.summary()["per_gender"] == {"unknown": len(fx.NEMO_FILES)}


def test_nemo_foreign_data_tsv_is_an_error_naming_the_file(tmp_path, capsys):
    root = fx.make_nemo(tmp_path / "nemo", tsv=False)
    (root / "data.tsv").write_text("id\tlabel\nx\ty\n")
    rc = cli.main(["corpus", "scan", str(root)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert str(root / "data.tsv") in err and "speaker_id" in err and "found id, label" in err


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
    if name == "tess":  # OAF_angry/ states speaker and emotion: the stray file is taken from its folder
        assert str(odd) not in reported
        assert [(r.path, r.taken) for r in c.recovered] == [(str(odd), "speaker OAF and emotion angry from folder OAF_angry")]
        assert c.table.set_index("path").loc[str(odd), "recovered"]
    else:
        assert str(odd) in reported
        assert "naming scheme" in reported[str(odd)] and name in reported[str(odd)]
        assert str(odd) not in set(c.table["path"]) and c.recovered == []
    everything = set(reported) | set(c.table["path"])
    assert not any(p.endswith((".txt", ".lab", ".csv")) or "/._" in p for p in everything)
    assert len(c.table) == len(FILES[name]) + (name == "tess")


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


@needs_nemo
def test_real_nemo_scan(capsys):
    root = fx.SHARED_DATA / "nemo"
    assert detect(root) == "nemo"
    rc = cli.main(["corpus", "scan", str(root), "--format", "json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert (s["corpus"], s["files"], s["speakers"], s["skipped"], s["recovered"]) == ("nemo", 2566, 9, 0, 0)
    assert s["emotions"] == {"neutral": 450, "happy": 430, "sad": 449, "angry": 429, "fearful": 417, "surprised": 391}
    # EB0, IC0, KD0 and MK0 are the women of the corpus (data.tsv)
    female = {"nemo:EB0", "nemo:IC0", "nemo:KD0", "nemo:MK0"}
    assert s["per_gender"] == {"female": sum(v for k, v in s["per_speaker"].items() if k in female),
                               "male": sum(v for k, v in s["per_speaker"].items() if k not in female)}
    assert sum(s["per_speaker"].values()) == 2566 and s["per_speaker"]["nemo:MP0"] == 216
    row = scan(root).table.set_index("path").loc[str(root / "EB0_anger_1.flac")]
    assert (row["speaker"], row["gender"], row["age"], row["emotion"], row["sentence"], row["language"]) == (
        "nemo:EB0", "female", 27, "angry", "1", "pl")
    assert row["text"] == "Lubię czytać przed snem."


# --------------------------------------------------------------------------- misnamed files, recovered from folders


def test_tess_misnamed_files_recovered_from_their_folder(tmp_path):
    root = fx.make_tess_misnamed(tmp_path / "tess")
    assert detect(root) == "tess"
    c = scan(root)
    table = c.table.set_index("path")
    assert len(c.table) == len(FILES["tess"]) + len(fx.TESS_MISNAMED)
    taken = {r.path: r.taken for r in c.recovered}
    assert set(taken) == {str(root / rel) for rel in fx.TESS_MISNAMED}
    for rel, (speaker, label, emotion, folder) in fx.TESS_MISNAMED.items():
        row = table.loc[str(root / rel)]
        assert (row["speaker"], row["label"], row["emotion"], row["gender"], row["age"], row["recovered"]) == (
            f"tess:{speaker}", label, emotion, "female", 64 if speaker == "OAF" else 26, True)
        assert pd.isna(row["text"])  # the word is not guessed from a broken name
        assert taken[str(root / rel)] == f"speaker {speaker} and emotion {emotion} from folder {folder}"
    assert table["recovered"].sum() == len(fx.TESS_MISNAMED)
    reasons = {sk.path: sk.reason for sk in c.skipped}
    assert set(reasons) == {str(root / rel) for rel in fx.TESS_AMBIGUOUS}
    for rel, fragment in fx.TESS_AMBIGUOUS.items():
        assert "does not follow the tess naming scheme" in reasons[str(root / rel)]
        assert fragment in reasons[str(root / rel)]
    assert "(OAF from OAF_angry, YAF from YAF_angry)" in reasons[str(root / "OAF_angry/YAF_angry/OAF_bakc-angry.wav")]
    s = c.summary()
    assert s["recovered"] == len(fx.TESS_MISNAMED) and s["skipped"] == len(fx.TESS_AMBIGUOUS)
    assert {e["path"]: e["taken"] for e in s["recovered_examples"]} == taken


def test_ravdess_speaker_folder_inside_emotion_folder(tmp_path):
    root = fx.make_ravdess_by_emotion(tmp_path / "ravdess")
    c = scan(root, corpus="ravdess")
    table = c.table.set_index("path")
    assert sorted(table.index) == sorted(str(root / rel) for rel in fx.RAVDESS_BY_EMOTION_FILES + list(fx.RAVDESS_MISNAMED))
    taken = {r.path: r.taken for r in c.recovered}
    for rel, (actor, label, emotion, speaker_folder, emotion_folder) in fx.RAVDESS_MISNAMED.items():
        row = table.loc[str(root / rel)]
        assert (row["speaker"], row["label"], row["emotion"], row["recovered"]) == (f"ravdess:{actor}", label, emotion, True)
        assert row["gender"] == ("male" if int(actor) % 2 else "female")
        assert taken[str(root / rel)] == (f"speaker {actor} from folder {speaker_folder}, "
                                          f"emotion {emotion} from folder {emotion_folder}")
    assert not table.loc[[str(root / rel) for rel in fx.RAVDESS_BY_EMOTION_FILES], "recovered"].any()
    reasons = {sk.path: sk.reason for sk in c.skipped}
    assert set(reasons) == {str(root / rel) for rel in fx.RAVDESS_AMBIGUOUS}
    for rel, fragment in fx.RAVDESS_AMBIGUOUS.items():
        assert fragment in reasons[str(root / rel)], reasons[str(root / rel)]
    assert "(03 from happy, 04 from sad)" in reasons[str(root / "happy/Actor_03/sad/03-01-03-01-01-1-03.wav")]


def test_scan_table_lists_recovered_files(tmp_path, capsys):
    root = fx.make_tess_misnamed(tmp_path / "tess")
    rc = cli.main(["corpus", "scan", str(root)])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("recovered "))
    assert lines[at].startswith(f"recovered {len(fx.TESS_MISNAMED)} ")
    listed = lines[at + 1: at + 1 + len(fx.TESS_MISNAMED)]
    assert sorted(listed) == sorted(f"  - {root / rel}: speaker {sp} and emotion {emo} from folder {folder}"
                                    for rel, (sp, _, emo, folder) in fx.TESS_MISNAMED.items())
    assert lines[at + 1 + len(fx.TESS_MISNAMED)] == f"skipped   {len(fx.TESS_AMBIGUOUS)}"
    rc = cli.main(["corpus", "scan", str(root), "--format", "csv"])
    rows = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert rc == 0 and rows["recovered"].sum() == len(fx.TESS_MISNAMED)


def test_recovery_never_overrides_a_well_formed_name(tmp_path):
    # the name says YAF/sad, the folder OAF/angry: the name is the corpus' own record and wins
    fx.write_clip(tmp_path / "tess" / "OAF_angry" / "YAF_back_sad.wav", sample_rate=fx.TESS_SAMPLE_RATE)
    [row] = scan(tmp_path / "tess", corpus="tess").table.to_dict("records")
    assert (row["speaker"], row["emotion"], row["recovered"]) == ("tess:YAF", "sad", False)


# --------------------------------------------------------------------------- links, FIFOs, unreadable entries


def scan_json(capsys, root: Path, *extra: str) -> tuple[int, dict, str]:
    rc = cli.main(["corpus", "scan", str(root), "--format", "json", *extra])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if out else {}), err


def test_fifo_dangling_links_loops_and_symlinked_folders_through_the_cli(tmp_path, capsys):
    root = fx.make_link_tree(tmp_path / "corpus")
    e = {role: str(root / rel) for role, rel in fx.LINK_TREE.items()}
    rc, s, err = scan_json(capsys, root)
    assert rc == 0 and err == ""
    assert s["corpus"] == "ravdess"
    # the four generated files plus the one reached through the symlinked speaker folder, each once
    assert s["files"] == len(fx.RAVDESS_FILES) + 1
    assert s["per_speaker"]["ravdess:05"] == 1
    reasons = {x["path"]: x["reason"] for x in s["skipped_examples"]}
    assert reasons == {
        e["fifo"]: "not a regular file (a FIFO)",
        e["dangling"]: "broken symbolic link",
        e["self_loop"]: "symbolic link loop",
    }
    assert s["skipped"] == 3
    table = scan(root).table
    assert e["linked_speaker"] in set(table["path"])
    assert not any("back_to_root" in p for p in table["path"])  # the loop back to the root is walked once
    rc = cli.main(["corpus", "scan", str(root)])
    out, err = capsys.readouterr()
    assert rc == 0 and err == "" and "Traceback" not in out
    for role, reason in (("fifo", "not a regular file (a FIFO)"), ("dangling", "broken symbolic link")):
        assert f"  - {e[role]}: {reason}" in out.splitlines()


def test_corpus_made_of_symlinked_folders(tmp_path, capsys):
    real = fx.make_ravdess(tmp_path / "real", song=False)
    linked = tmp_path / "linked"
    linked.mkdir()
    for actor in sorted({Path(f).parts[0] for f in fx.RAVDESS_FILES}):
        (linked / actor).symlink_to(real / actor, target_is_directory=True)
    rc, s, err = scan_json(capsys, linked)
    assert rc == 0 and err == ""
    assert (s["corpus"], s["files"], s["skipped"]) == ("ravdess", len(fx.RAVDESS_FILES), 0)
    assert sorted(scan(linked).table["path"]) == sorted(str(linked / f) for f in fx.RAVDESS_FILES)  # link paths kept


def test_only_unreadable_entries_is_a_one_line_error(tmp_path, capsys):
    root = tmp_path / "corpus" / "Actor_01"
    root.mkdir(parents=True)
    (root / "03-01-01-01-01-01-01.wav").symlink_to(tmp_path / "gone.wav")
    rc = cli.main(["corpus", "scan", str(root.parent)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "no audio files found" in err and "broken symbolic link" in err


def test_unreadable_file_skipped_as_permission_denied(tmp_path, capsys, monkeypatch):
    root = fx.make_ravdess(tmp_path / "corpus", song=False)
    locked = root / fx.RAVDESS_FILES[0]
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make os.access answer as it would for anyone else
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode, **kw))
    rc, s, err = scan_json(capsys, root)
    assert rc == 0 and err == ""
    assert s["files"] == len(fx.RAVDESS_FILES) - 1
    assert s["skipped_examples"] == [{"path": str(locked), "reason": "permission denied"}]


def test_unlistable_folder_is_reported(tmp_path, capsys, monkeypatch):
    root = fx.make_ravdess(tmp_path / "corpus", song=False)
    locked = root / "Actor_02"
    locked.chmod(0)
    if os.geteuid() == 0:  # root lists any folder: make scandir answer as it would for anyone else
        real_scandir = os.scandir

        def scandir(path="."):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    try:
        files, problems = walk_files(root, audio.is_audio_name)
        rc, s, err = scan_json(capsys, root)
    finally:
        locked.chmod(0o755)
    assert problems == [(locked, EntryProblem.FOLDER_PERMISSION.value)]
    assert all("Actor_02" not in str(f) for f in files) and len(files) == len(fx.RAVDESS_FILES) - 1
    assert rc == 0 and err == "" and s["files"] == len(fx.RAVDESS_FILES) - 1
    assert s["skipped_examples"] == [{"path": str(locked), "reason": "folder cannot be listed: permission denied"}]


def test_walk_files_accept_and_appledouble(tmp_path):
    root = fx.make_link_tree(tmp_path / "corpus")
    (root / "Actor_01" / "._03-01-01-01-01-01-01.wav").write_bytes(b"\x00\x05\x16\x07")
    os.mkfifo(root / "Actor_01" / "pipe.txt")  # not an audio name: not reported
    (root / "Actor_00_alias").symlink_to(root / "Actor_24", target_is_directory=True)  # walked before Actor_24
    files, problems = walk_files(root, audio.is_audio_name)
    assert not any("Actor_00_alias" in str(f) for f in files)  # a folder reached directly keeps its own path
    assert root / fx.RAVDESS_FILES[-1] in files
    names = {p.name for p in files}
    assert "._03-01-01-01-01-01-01.wav" in names  # the walker itself keeps what `accept` takes
    assert {p.name for p, _ in problems} == {Path(fx.LINK_TREE[r]).name for r in ("fifo", "dangling", "self_loop")}
    c = scan(root)
    assert not any(Path(p).name.startswith("._") for p in list(c.table["path"]) + [sk.path for sk in c.skipped])
    assert files == sorted(files) and len(files) == len(set(files))


@pytest.mark.parametrize("name", sorted(fx.GENERATORS))
def test_scan_output_without_pandas_is_what_pandas_writes(scanned, trees, name):
    """`corpus scan` builds its CSV and summary without pandas (the light install); the text must not change."""
    for c in (scanned[name], scan(trees[name], check_audio=False)):
        assert c.to_csv() == c.table.to_csv(index=False)
        assert list(c.table.columns) == c.columns
        t = c.table
        assert c.summary()["hours"] == round(float(t["duration"].sum()) / 3600.0, 4)
        assert c.summary()["per_gender"] == {str(k): int(v) for k, v in
                                             sorted(t["gender"].fillna("unknown").value_counts().items())}
        assert c.speakers == sorted(t["speaker"].dropna().unique().tolist())


@pytest.mark.parametrize("make", [fx.make_manifest, fx.make_bad_corpus, fx.make_tess_misnamed, fx.make_crema_d])
def test_scan_output_without_pandas_on_manifests_and_odd_trees(tmp_path, make):
    """Manifests (missing speakers and genders), skipped files, recovered rows, optional demographics."""
    kwargs = {"bad_rows": True} if make is fx.make_manifest else {"demographics": False} if make is fx.make_crema_d else {}
    c = scan(make(tmp_path / "c", **kwargs))
    assert c.to_csv() == c.table.to_csv(index=False)
    assert c.speakers == sorted(c.table["speaker"].dropna().unique().tolist())


def _pandas_summary(c) -> dict:
    """Corpus.summary() as it was computed with pandas, before the scan path left pandas."""
    from serkit.labels import ordered

    t = c.table
    emotions = t["emotion"].value_counts()
    return {**c.summary(),
            "files": int(len(t)), "speakers": int(t["speaker"].nunique()),
            "hours": round(float(t["duration"].sum()) / 3600.0, 4),
            "emotions": {k: int(emotions[k]) for k in ordered(emotions.index)},
            "per_speaker": {str(k): int(v) for k, v in sorted(t["speaker"].value_counts().items())},
            "per_gender": {str(k): int(v) for k, v in sorted(t["gender"].fillna("unknown").value_counts().items())}}


@pytest.mark.parametrize("make", [fx.make_manifest, fx.make_bad_corpus, fx.make_tess_misnamed, fx.make_nemo,
                                  fx.make_ravdess])
def test_summary_without_pandas_is_what_pandas_computed(tmp_path, make):
    c = scan(make(tmp_path / "c"))
    assert json.dumps(c.summary()) == json.dumps(_pandas_summary(c))
