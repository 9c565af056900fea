"""Metrics, folds, augmentation hygiene and the reports of `evaluate`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import fixtures as fx
import serkit.evaluation as ev
from serkit.augment import apply_augmentations
from serkit.errors import ConfigError, DataError, UnknownNameError
from serkit.evaluation import PROTOCOL_LABELS, Protocol, evaluation_config, make_folds
from serkit.features import Variant, extract_features
from serkit.metrics import compute_metrics
from serkit.models import MODELS

EMOTIONS = ("happy", "sad", "angry")


def evaluate(data, *, output=None, **options):
    """`evaluation.evaluate` with the options as keywords: the config (validated here) and the run split apart."""
    config, run = evaluation_config(data=data, **options)
    return ev.evaluate(config, run=run, output=output)


# --------------------------------------------------------------------------- metrics by hand


def test_compute_metrics_matches_hand_computed_values():
    #        0    1    2    3    4    5
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "c", "c"]
    speakers = ["s1", "s1", "s2", "s1", "s2", "s2"]
    m = compute_metrics(y_true, y_pred, ["a", "b", "c", "d"], speakers=speakers)  # d: never in y_true
    # recall a 2/3, b 1/2, c 1; precision a 2/2, b 1/2, c 1/2
    f1 = {"a": 2 * 1 * (2 / 3) / (1 + 2 / 3), "b": 0.5, "c": 2 * 0.5 * 1 / 1.5}
    assert m["n"] == 6
    assert m["wa"] == pytest.approx(4 / 6)
    assert m["ua"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)  # mean recall over the classes present
    assert m["macro_recall"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["macro_precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert m["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": f1["a"], "support": 3})
    assert m["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": f1["c"], "support": 1})
    assert m["per_class"]["d"]["support"] == 0
    # s1: a,a,b all right -> 1; s2: a->b, b->c, c->c -> recalls 0, 0, 1 -> 1/3
    assert m["ua_per_speaker"] == pytest.approx({"s1": 1.0, "s2": 1 / 3})


def test_ua_differs_from_wa_on_imbalanced_data():
    y_true = ["a"] * 8 + ["b"] * 2
    y_pred = ["a"] * 10  # majority class everywhere
    m = compute_metrics(y_true, y_pred, ["a", "b"])
    assert m["wa"] == pytest.approx(0.8)
    assert m["ua"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- folds


def table(n_speakers: int, *, per_speaker: int = 6, speakers: bool = True) -> pd.DataFrame:
    rows = []
    for s in range(n_speakers):
        for k in range(per_speaker):
            rows.append({"path": f"/x/s{s:02d}_{k}.wav", "emotion": EMOTIONS[k % len(EMOTIONS)],
                         "speaker": f"s{s:02d}" if speakers else None})
    return pd.DataFrame(rows)


def check_folds(t: pd.DataFrame, folds) -> None:
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(t)))  # every row tested exactly once
    spk = t["speaker"].to_numpy()
    seen: set[str] = set()
    for f in folds:
        test_speakers = set(spk[f.test])
        assert test_speakers.isdisjoint(spk[f.train])  # no speaker on both sides of a fold
        assert test_speakers.isdisjoint(seen)  # no speaker in two folds' test sets
        seen |= test_speakers
        assert sorted(np.concatenate([f.train, f.test]).tolist()) == list(range(len(t)))


@pytest.mark.parametrize("n_speakers", [11, 12, 24])
def test_speaker_protocol_uses_grouped_5_fold_above_10_speakers(n_speakers):
    t = table(n_speakers)
    folds, scheme = make_folds(t, Protocol.SPEAKER, seed=3)
    assert len(folds) == 5
    assert "StratifiedGroupKFold k=5" in scheme and f"{n_speakers} speakers" in scheme
    check_folds(t, folds)


@pytest.mark.parametrize("n_speakers", [2, 6, 10])
def test_speaker_protocol_leaves_one_speaker_out_up_to_10_speakers(n_speakers):
    t = table(n_speakers)
    folds, scheme = make_folds(t, Protocol.SPEAKER)
    assert len(folds) == n_speakers
    assert "leave-one-speaker-out" in scheme
    assert all(len(set(t["speaker"].to_numpy()[f.test])) == 1 for f in folds)
    check_folds(t, folds)


def test_random_protocol_is_labelled_speaker_dependent():
    assert PROTOCOL_LABELS[Protocol.RANDOM] == "speaker-dependent (optimistic)"
    assert PROTOCOL_LABELS[Protocol.SPEAKER] == "speaker-independent"
    t = table(4)
    folds, scheme = make_folds(t, Protocol.RANDOM, n_folds=3)
    assert len(folds) == 3 and "speakers shared" in scheme
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(t)))
    spk = t["speaker"].to_numpy()
    assert any(set(spk[f.test]) & set(spk[f.train]) for f in folds)  # really speaker-dependent


# --------------------------------------------------------------------------- errors


def test_one_class_only_is_a_data_error():
    t = table(4).assign(emotion="sad")
    with pytest.raises(DataError, match="only one emotion class"):
        make_folds(t, Protocol.SPEAKER)


def test_speaker_protocol_without_speakers_is_a_data_error(tmp_path):
    t = table(4, speakers=False)
    with pytest.raises(DataError, match="protocol='random'"):  # the Python spelling; the CLI says --protocol random
        make_folds(t, Protocol.SPEAKER)
    # end to end: a manifest without a speaker column
    csv_path = fx.make_speaker_manifest(tmp_path, speakers=2, per_class=1, speaker_column=False)
    with pytest.raises(DataError) as err:
        evaluate(str(csv_path), protocol="speaker", workers=1, jobs=1, progress=False)
    assert "speaker" in str(err.value) and "6 file(s) have none" in str(err.value)


def test_unknown_model_names_the_valid_choices(tmp_path):
    with pytest.raises(UnknownNameError) as err:
        evaluate(str(tmp_path), models=["logreg", "deepforest"], progress=False)
    msg = str(err.value)
    assert "deepforest" in msg
    assert all(name in msg for name in MODELS)


def test_unknown_feature_names_the_valid_choices(tmp_path):
    with pytest.raises(UnknownNameError) as err:
        evaluate(str(tmp_path), features="spectral_stats+wav2vec", progress=False)
    msg = str(err.value)
    assert "wav2vec" in msg
    assert all(name in msg for name in ("spectral_stats", "mfcc_matrix", "logmel", "egemaps", "compare", "whisper_encoder"))


def test_cnn_mfcc_with_a_vector_feature_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        evaluate(str(tmp_path), models="cnn_mfcc", features="spectral_stats", progress=False)
    msg = str(err.value)
    assert "cnn_mfcc" in msg and "mfcc_matrix" in msg and "logmel" in msg
    assert "spectral_stats" not in msg.split("use one of:")[1]


def test_unknown_protocol_names_the_valid_choices(tmp_path):
    with pytest.raises(UnknownNameError) as err:
        evaluate(str(tmp_path), protocol="loso", progress=False)
    assert all(p in str(err.value) for p in ("speaker", "random", "cross", "corpus"))


# --------------------------------------------------------------------------- augmentation hygiene


def test_apply_augmentations_is_deterministic_and_changes_the_signal():
    x = fx.synth(0.5, seed=4)
    a = apply_augmentations(x, "noise", seed=1, copy=0)
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, apply_augmentations(x, "noise", seed=1, copy=0))
    assert not np.allclose(a, x)
    assert not np.array_equal(a, apply_augmentations(x, "noise", seed=2, copy=0))
    assert not np.array_equal(a, apply_augmentations(x, "noise", seed=1, copy=1))
    np.testing.assert_array_equal(x, fx.synth(0.5, seed=4))  # the input is not modified in place


def test_augmented_copies_only_of_training_files_and_test_rows_untouched(tmp_path, monkeypatch):
    csv_path = fx.make_speaker_manifest(tmp_path, speakers=4, per_class=2)  # 24 files, leave-one-speaker-out
    calls = []

    def recorder(job):
        calls.append((job.X_train.copy(), np.asarray(job.y_train), np.asarray(job.groups), job.X_test.copy()))
        classes = sorted(set(job.y_train))
        return ev.FoldOutput(classes, np.full((len(job.X_test), len(classes)), 1 / len(classes)), 0.0)

    monkeypatch.setattr(ev, "run_fold", recorder)
    result = evaluate(str(csv_path), models="logreg", augment="noise", augment_copies=1, seed=5,
                      workers=1, jobs=1, progress=False)
    assert len(calls) == 4

    # reference features, computed independently: originals and the noise copy of every file
    paths = pd.read_csv(csv_path)["path"].map(lambda p: str((tmp_path / p).resolve())).tolist()
    orig = extract_features(paths, ["spectral_stats"], cache=None, workers=1, progress=False).stacked("spectral_stats")
    aug = extract_features(paths, ["spectral_stats"], cache=None, workers=1, progress=False,
                           variants=[Variant("noise", 0, 5)] * len(paths)).stacked("spectral_stats")
    which = {r.astype(np.float32).tobytes(): ("orig", p) for r, p in zip(orig, paths)}
    which |= {r.astype(np.float32).tobytes(): ("aug", p) for r, p in zip(aug, paths)}
    assert len(which) == 2 * len(paths)  # every row identifies one (kind, file)
    speaker_of = {str((tmp_path / p).resolve()): s for p, s in pd.read_csv(csv_path)[["path", "speaker"]].values}

    all_tested: list[str] = []
    for X_train, y_train, groups, X_test in calls:
        train_rows = [which[r.tobytes()] for r in X_train]
        test_rows = [which[r.tobytes()] for r in X_test]
        train_files = {p for kind, p in train_rows if kind == "orig"}
        test_files = [p for _, p in test_rows]
        assert all(kind == "orig" for kind, _ in test_rows)  # test audio never augmented
        assert len(X_train) == 2 * len(train_files)  # one noise copy per training file ...
        assert {p for kind, p in train_rows if kind == "aug"} == train_files  # ... of training files only
        assert train_files.isdisjoint(test_files)
        test_speakers = {speaker_of[p] for p in test_files}
        assert len(test_speakers) == 1
        assert not any(g.endswith(":" + next(iter(test_speakers))) for g in groups)  # validation speakers too
        all_tested += test_files
    assert sorted(all_tested) == sorted(paths)
    assert result.config.augment == ("noise",) and result.config.augment_copies == 1


# --------------------------------------------------------------------------- reports


def test_reports_of_two_models(tmp_path):
    csv_path = fx.make_speaker_manifest(tmp_path / "data", speakers=3, per_class=3)  # 27 files
    out = tmp_path / "report"
    result = evaluate(str(csv_path), models="logreg,svm", output=out, workers=1, jobs=1, progress=False)
    labels = ["happy", "sad", "angry"]

    for folder in (out, out / "logreg", out / "svm"):
        metrics = json.loads((folder / "metrics.json").read_text())
        assert {"protocol", "ua", "wa", "macro_f1", "per_fold"} <= set(metrics)
        assert metrics["protocol"] == "speaker" and metrics["protocol_label"] == "speaker-independent"
        assert len(metrics["per_fold"]["ua"]) == 3  # leave-one-speaker-out over 3 speakers
        assert 0.0 <= metrics["ua"] <= 1.0
        report = pd.read_csv(folder / "classification_report.csv")
        assert report["class"].tolist() == [*labels, "macro avg"]
        assert {"precision", "recall", "f1", "support"} <= set(report.columns)
        assert report.loc[report["class"] == "macro avg", "support"].item() == 27
        assert (folder / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pred = pd.read_csv(folder / "predictions.csv")
        assert pred.columns.tolist() == ["path", "speaker", "corpus", "fold", "true", "predicted", *[f"p_{c}" for c in labels]]
        assert len(pred) == 27 and pred["path"].is_unique
        np.testing.assert_allclose(pred[[f"p_{c}" for c in labels]].sum(axis=1), 1.0, atol=1e-5)
        assert set(pred["predicted"]) <= set(labels)
        assert pred.groupby("fold")["speaker"].nunique().eq(1).all()
    assert json.loads((out / "metrics.json").read_text())["model"] == result.best

    sel = pd.read_csv(out / "model_selection.csv", keep_default_na=False)
    assert sorted(sel["model"]) == ["logreg", "svm"]
    assert (sel["best"] == "*").sum() == 1
    best = sel.loc[sel["best"] == "*", "model"].item()
    assert best == result.best
    assert sel.loc[sel["best"] == "*", "ua"].item() == sel["ua"].max()


def test_random_protocol_report_is_labelled_optimistic(tmp_path):
    csv_path = fx.make_speaker_manifest(tmp_path / "data", speakers=2, per_class=3)
    result = evaluate(str(csv_path), protocol="random", folds=3, output=tmp_path / "r", workers=1, jobs=1,
                      progress=False)
    assert result.protocol_label == "speaker-dependent (optimistic)"
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["protocol_label"] == "speaker-dependent (optimistic)"
    assert len(metrics["per_fold"]["ua"]) == 3


def test_cross_protocol_keeps_only_shared_classes(tmp_path, shared_data):
    train_csv = fx.write_manifest(tmp_path / "ravdess.csv", fx.real_ravdess_files(
        actors=(1, 2), emotions=("neutral", "calm", "happy", "sad", "angry"), per_class=2))
    test_rows = fx.real_savee_files(speakers=("DC",), emotions=("neutral", "happy", "sad", "angry", "surprised"),
                                    per_class=2)
    test_csv = fx.write_manifest(tmp_path / "savee.csv", test_rows)
    result = evaluate(str(train_csv), test_data=str(test_csv), protocol="cross", output=tmp_path / "x",
                      workers=1, jobs=1, progress=False)
    shared = ["neutral", "happy", "sad", "angry"]  # no calm (RAVDESS only), no surprised (SAVEE only here)
    r = result.results["logreg"]
    assert r.labels == shared
    assert result.protocol_label == "cross-corpus"
    pred = r.predictions
    assert sorted(pred["path"]) == sorted(str(p) for p, e, _ in test_rows if e in shared)
    assert set(pred["true"]) == set(shared)
    assert set(pred["predicted"]) <= set(shared)
    assert [c for c in pred.columns if c.startswith("p_")] == [f"p_{c}" for c in shared]
    assert result.n_files == 2 * 2 * 4 + 2 * 4  # RAVDESS shared-class files + SAVEE shared-class files
