"""Leave-one-corpus-out, per-corpus normalisation and unsupervised adaptation, on real audio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixtures import real_ravdess_files, real_savee_files, write_manifest
from serkit.cli import main
from serkit.errors import SerkitError
from serkit.evaluation import evaluate, evaluation_config, make_folds
from serkit.experiment import Protocol

FAST = {"features": "spectral_stats", "workers": 1, "jobs": 1, "progress": False}


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory, request) -> tuple[Path, Path]:
    request.getfixturevalue("shared_data")
    root = tmp_path_factory.mktemp("loco")
    a = write_manifest(root / "a.csv", real_ravdess_files(per_class=3))  # 4 actors x 4 emotions x 3
    b = write_manifest(root / "b.csv", real_savee_files(per_class=4))  # 2 speakers x 5 emotions x 4
    return a, b


@pytest.fixture(scope="module")
def corpus_bundle(two_corpora, tmp_path_factory) -> Path:
    from serkit.training import train

    cfg, run = evaluation_config(data=[str(p) for p in two_corpora], models="logreg", normalize="corpus", **FAST)
    return train(cfg, tmp_path_factory.mktemp("b") / "model", run=run, evaluate=False)


def test_corpus_folds_never_train_on_the_held_out_corpus():
    table = pd.DataFrame({"domain": ["a"] * 6 + ["b"] * 6 + ["c"] * 6,
                          "emotion": ["happy", "sad", "angry"] * 4 + ["happy", "sad", "calm"] * 2})
    folds, scheme = make_folds(table, Protocol.CORPUS)
    assert [f.name for f in folds] == ["a", "b", "c"] and "leave-one-corpus-out" in scheme
    for f in folds:
        assert set(table["domain"][f.train]) == {"a", "b", "c"} - {f.name}
        assert set(table["domain"][f.test]) == {f.name}
        # scored on the classes both sides have: `calm` exists only in c, so c is scored without it
        assert set(table["emotion"][f.test]) == set(f.labels) <= set(table["emotion"][f.train])
    assert folds[2].labels == ("happy", "sad")


def test_evaluate_corpus_protocol_reports_each_held_out_corpus(two_corpora, tmp_path):
    out = tmp_path / "ev"
    cfg, run = evaluation_config(data=[str(p) for p in two_corpora], models="logreg", protocol="corpus", **FAST)
    r = evaluate(cfg, run=run, output=out)
    m = r.results["logreg"].metrics
    assert [f["name"] for f in m["folds"]] == ["manifest", "manifest#2"]
    pred = pd.read_csv(out / "predictions.csv")
    for name, group in pred.groupby("fold"):
        fold = next(f for f in r.folds if f.name == name)
        trained_on = set(r.table.table["path"].to_numpy()[fold.train])
        assert not trained_on & set(group["path"]), "a held-out file was in its own training set"
        assert set(group["true"]) <= set(fold.labels)
    assert (out / "confusion_matrix_manifest.png").is_file() and (out / "confusion_matrix_manifest_2.png").is_file()
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["protocol"] == "corpus" and saved["fold_names"] == ["manifest", "manifest#2"]
    assert np.isclose(saved["ua"], np.mean(saved["per_fold"]["ua"]))


def test_adaptation_in_evaluation_is_labelled_and_needs_corpus_normalisation(two_corpora):
    # The library names its parameters as Python spells them; the CLI respells them as its flags.
    with pytest.raises(SerkitError, match="adapt_files needs normalize='corpus'") as exc:
        evaluation_config(data=[str(p) for p in two_corpora], protocol="corpus", adapt_files=10, **FAST)
    assert exc.value.params == ("adapt_files", "normalize") and isinstance(exc.value, ValueError)
    cfg, run = evaluation_config(data=[str(p) for p in two_corpora], protocol="corpus", normalize="corpus",
                                 adapt_files=10, **FAST)
    r = evaluate(cfg, run=run)
    assert r.protocol_label == ("leave-one-corpus-out + per-corpus normalisation, adapted on 10 unlabelled files "
                                "of each test corpus")


def _flat_folder(root: Path, n: int) -> Path:
    """n real recordings renamed 0001.flac ... in one flat folder: nothing in a name or folder says what it is."""
    root.mkdir()
    for i, (path, _, _) in enumerate(real_savee_files(speakers=("KL",), per_class=3)[:n], start=1):
        shutil.copy(path, root / f"{i:04d}.flac")
    return root


def test_adapt_reads_no_label_and_round_trips_through_save_load_and_onnx(corpus_bundle, tmp_path, monkeypatch):
    import serkit.corpora.registry as registry
    import serkit.labels as labels
    from serkit.export import export_onnx
    from serkit.inference import Predictor

    def forbidden(*a, **k):
        raise AssertionError("adaptation must not read corpora or labels")

    for mod, name in ((registry, "scan"), (registry, "load_dataset"), (registry, "detect"),
                      (labels, "normalise_label")):
        monkeypatch.setattr(mod, name, forbidden)
    folder = _flat_folder(tmp_path / "mine", 12)
    out = tmp_path / "adapted"
    assert main(["adapt", str(folder), "--model", str(corpus_bundle), "--output", str(out), "--quiet"]) == 0
    monkeypatch.undo()
    adaptation = json.loads((out / "adaptation.json").read_text())
    assert adaptation["files"] == 12
    assert "Adapted without labels on 12 recordings" in (out / "card.md").read_text()

    clip = str(folder / "0001.flac")
    plain, adapted = Predictor.load(corpus_bundle), Predictor.load(out)
    in_memory = plain.adapt([folder])
    p_mem, p_disk = in_memory.predict_file(clip).probabilities, adapted.predict_file(clip).probabilities
    assert max(abs(p_mem[k] - p_disk[k]) for k in p_mem) < 1e-6
    assert max(abs(p_disk[k] - plain.predict_file(clip).probabilities[k]) for k in p_disk) > 1e-3  # it changed
    export_onnx(out)
    p_onnx = Predictor.load(out, backend="onnx").predict_file(clip).probabilities
    assert max(abs(p_onnx[k] - p_disk[k]) for k in p_disk) < 1e-4
    assert Predictor.load(out).describe()["adaptation"]["files"] == 12


def _one_line_error(capsys, code: int, needle: str) -> None:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and needle in err, err


@pytest.mark.parametrize("case", ["nine", "not_audio", "silence"])
def test_adapt_refuses_bad_input_and_writes_nothing(case, corpus_bundle, tmp_path, capsys):
    import soundfile as sf

    if case == "nine":
        folder, needle = _flat_folder(tmp_path / "mine", 9), "at least 10 recordings; got 9"
    elif case == "not_audio":
        folder, needle = tmp_path / "docs", "at least 10 recordings; got 0"
        folder.mkdir()
        for i in range(12):
            (folder / f"{i}.txt").write_text("not audio")
    else:
        folder, needle = tmp_path / "quiet", "0 of 12 could be read"
        folder.mkdir()
        for i in range(12):
            sf.write(folder / f"{i:04d}.wav", np.zeros(16000, dtype=np.float32), 16000)
    out = tmp_path / "adapted"
    _one_line_error(capsys, main(["adapt", str(folder), "--model", str(corpus_bundle), "--output", str(out),
                                  "--quiet"]), needle)
    assert not out.exists() and not list(tmp_path.glob(".adapted*"))


def test_adapt_refuses_a_model_trained_without_corpus_normalisation(two_corpora, tmp_path, capsys):
    from serkit.training import train

    cfg, run = evaluation_config(data=[str(two_corpora[0])], models="logreg", **FAST)
    bundle = train(cfg, tmp_path / "plain", run=run, evaluate=False)
    out = tmp_path / "adapted"
    folder = _flat_folder(tmp_path / "mine", 12)
    _one_line_error(capsys, main(["adapt", str(folder), "--model", str(bundle), "--output", str(out)]),
                    "trained with --normalize none; only a model trained with --normalize corpus can be adapted")
    assert not out.exists()


def test_predict_adapt_on_the_batch_is_labelled_transductive(corpus_bundle, tmp_path, capsys):
    folder = _flat_folder(tmp_path / "mine", 12)
    assert main(["predict", str(folder), "--model", str(corpus_bundle), "--adapt", "--format", "json",
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "adapted on the 12 files being predicted (transductive)" in captured.err
    assert len(json.loads(captured.out)) == 12


@pytest.mark.parametrize("per_class, adapted", [(2, 16), (1, None)])  # 16 files: adapted on 16; 8: no adapted row
def test_train_on_a_small_corpus_adapts_on_what_there_is(two_corpora, tmp_path, per_class, adapted):
    from serkit.training import train

    small = write_manifest(tmp_path / "small.csv", real_ravdess_files(actors=(5, 6), per_class=per_class))
    cfg, run = evaluation_config(data=[str(small), str(two_corpora[1])], models="logreg", normalize="corpus", **FAST)
    bundle = train(cfg, tmp_path / "b", run=run)
    labels = [e["protocol_label"] for e in json.loads((bundle / "metrics.json").read_text())["evaluations"]]
    assert any(label.startswith("leave-one-corpus-out") and "adapted" not in label for label in labels)
    assert [label for label in labels if "adapted on" in label] == (
        [] if adapted is None else [f"leave-one-corpus-out + per-corpus normalisation, adapted on {adapted} "
                                    "unlabelled files of each test corpus"])


def test_cross_adaptation_draws_from_every_test_file_whatever_its_label(tmp_path, shared_data):
    """The unlabelled adaptation sample is not chosen by labels: with --protocol cross the test corpus' files of
    classes the training data lacks (here `surprised`) are in the pool too, though they are not scored."""
    train_csv = write_manifest(tmp_path / "r.csv", real_ravdess_files(actors=(1, 2), per_class=2))
    test_csv = write_manifest(tmp_path / "s.csv", real_savee_files(
        speakers=("DC",), emotions=("neutral", "happy", "sad", "angry", "surprised"), per_class=2))  # 10 files
    cfg, run = evaluation_config(data=[str(train_csv)], test_data=[str(test_csv)], protocol="cross",
                                 normalize="corpus", adapt_files=10, **FAST)  # all 10, not only the 8 scored
    r = evaluate(cfg, run=run)
    assert set(r.results["logreg"].predictions["true"]) == {"neutral", "happy", "sad", "angry"}
    assert r.n_files == 16 + 8
