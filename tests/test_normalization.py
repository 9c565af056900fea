"""Normalisation schemes behind one interface (#17 item 1), and the adaptation sample check (#18 item 9).

A scheme owns fitting, applying, adapting and saving its statistics; pipelines ask it. A new scheme is one class:
`test_a_new_scheme_is_one_class` registers a throwaway one and predicts with it, in this process and on workers.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures import real_ravdess_files, real_savee_files, write_manifest

from serkit import normalization as nz
from serkit.cli import main
from serkit.errors import DataError, SerkitError
from serkit.evaluation import evaluation_config

FAST = {"features": "spectral_stats", "workers": 1, "jobs": 1, "progress": False}
EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "examples").glob("*.flac"))


def _rows(seed: int, n: int = 40, dim: int = 6, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(2.0, scale, (n, dim))


# -- the interface -------------------------------------------------------------------------------------
def test_each_scheme_says_what_it_can_do():
    assert [nz.scheme(k).kind for k in nz.Normalization] == ["none", "corpus", "speaker"]
    assert nz.scheme("corpus").can_adapt and not nz.scheme("none").can_adapt and not nz.scheme("speaker").can_adapt
    assert nz.scheme("speaker").per_batch and not nz.scheme("speaker").can_stream and nz.scheme("corpus").can_stream
    with pytest.raises(ValueError, match="unknown normalisation 'global'; valid choices: corpus, none, speaker"):
        nz.scheme("global")


def test_corpus_scheme_fits_on_originals_and_uses_training_adapted_or_pooled_statistics():
    X = np.concatenate([_rows(0, 20), _rows(1, 20) + 5, _rows(2, 10)])  # 20 of a, 20 of b, 10 augmented copies
    domains = np.array(["a"] * 20 + ["b"] * 20 + ["a"] * 10, dtype=object)
    X_train, fitted = nz.scheme("corpus").fit(X, speakers=domains, domains=domains, n_originals=40)
    assert np.allclose(X_train[:20].mean(axis=0), 0, atol=1e-5)  # z-scored by a's own original rows
    assert np.allclose(fitted.pooled.mean, X[:40].mean(axis=0))  # augmented copies never counted
    test = np.concatenate([_rows(3, 12), _rows(4, 12) - 3])
    test_domains = np.array(["a"] * 12 + ["new"] * 12, dtype=object)
    out = fitted.transform_test(test, speakers=test_domains, domains=test_domains,
                                adaptation={"new": _rows(5, 12) - 3})
    assert np.allclose(out[:12], fitted.groups["a"].apply(test[:12]))
    assert np.allclose(out[12:], nz.Stats.of(_rows(5, 12) - 3).apply(test[12:]))
    unadapted = fitted.transform_test(test, speakers=test_domains, domains=test_domains)
    assert np.allclose(unadapted[12:], fitted.pooled.apply(test[12:]))


def test_saved_statistics_round_trip_and_keep_the_file_format():
    _, fitted = nz.scheme("corpus").fit(_rows(0), speakers=np.zeros(40), domains=np.zeros(40), n_originals=40)
    adapted = fitted.adapt(_rows(1, 12))
    data = adapted.to_bytes()
    with np.load(io.BytesIO(data)) as z:
        assert sorted(z.files) == ["adapted_mean", "adapted_n", "adapted_std", "pooled_mean", "pooled_n", "pooled_std"]
    back = nz.scheme("corpus").load(io.BytesIO(data), dim=6)
    assert np.array_equal(back.adapted.mean, adapted.adapted.mean) and back.pooled.n == 40 and not back.groups
    assert nz.scheme("none")().to_bytes() is None and nz.scheme("speaker")().to_bytes() is None


def test_speaker_scheme_needs_a_batch_and_cannot_stream():
    s = nz.scheme("speaker")()
    with pytest.raises(SerkitError, match="per speaker") as exc:
        s.transform(_rows(0, 5), whole_batch=True)
    assert exc.value.params == ("normalize",)
    assert np.allclose(s.transform(_rows(0, 12), whole_batch=True).mean(axis=0), 0, atol=1e-5)
    with pytest.raises(SerkitError, match="cannot predict a live stream; use a model trained with "
                                          "normalize='none' or normalize='corpus'"):
        s.check_stream("m")


# -- a new scheme is one class --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class HalfScale(nz.Normalizer):
    """A throwaway scheme: every row divided by twice the pooled training std (no centring), adaptable."""

    kind = "half_scale_test"
    label = " + half-scale"
    can_adapt = True
    saves_statistics = True

    @classmethod
    def fit(cls, X, *, speakers, domains, n_originals):
        fitted = cls(pooled=nz.Stats.of(X[:n_originals]))
        return fitted.transform(X, whole_batch=True), fitted

    def transform_test(self, X, *, speakers, domains, adaptation=None):
        return self.transform(X, whole_batch=True)

    def transform(self, X, *, whole_batch):
        st = self.adapted or self.pooled
        return (np.asarray(X) / (2 * st.std)).astype(np.float32)


@pytest.fixture
def half_scale():
    nz.register(HalfScale)  # what @nz.register above the class does for a real scheme
    yield HalfScale
    nz.unregister(HalfScale.kind)


def test_a_new_scheme_is_one_class(half_scale):
    from serkit.inference import Predictor

    plain = Predictor.load()
    dim = plain.config.input_size
    rng = np.random.default_rng(0)
    _, fitted = nz.scheme("half_scale_test").fit(rng.normal(0, 3, (30, dim)), speakers=np.zeros(30),
                                                 domains=np.zeros(30), n_originals=30)
    bundle = dataclasses.replace(plain.bundle, normalizer=fitted)
    predictor = Predictor(bundle)
    here = predictor.predict_files(EXAMPLES[:3])
    assert all(p.ok for p in here)
    # Workers rebuild it from its kind and saved statistics, through the same registry.
    rebuilt = nz.from_spec(nz.statistics_spec(fitted), dim=dim)
    assert type(rebuilt) is HalfScale and np.array_equal(rebuilt.pooled.std, fitted.pooled.std)
    assert [p.probabilities for p in Predictor(bundle).predict_files(EXAMPLES[:3])] == [p.probabilities for p in here]
    adapted = fitted.adapt(rng.normal(0, 1, (12, dim)))
    assert adapted.adapted is not None and fitted.adapted is None  # a new instance; the fitted one is unchanged




# -- #18 item 9: degenerate adaptation samples ----------------------------------------------------------
def test_the_sample_check_refuses_copies_and_near_identical_rows():
    _, fitted = nz.scheme("corpus").fit(_rows(0), speakers=np.zeros(40), domains=np.zeros(40), n_originals=40)
    with pytest.raises(DataError, match="only 1 distinct feature vector") as exc:
        fitted.adapt(np.repeat(_rows(1, 1), 10, axis=0))
    assert isinstance(exc.value, ValueError)
    with pytest.raises(DataError, match="near-identical: their feature spread is"):
        fitted.adapt(_rows(1, 1) + _rows(2, 12, scale=1e-3))
    fitted.adapt(_rows(3, 12, scale=0.5))  # a narrower domain than training is fine


@pytest.fixture(scope="module")
def corpus_model(tmp_path_factory, request) -> Path:
    from serkit.training import train

    request.getfixturevalue("shared_data")
    root = tmp_path_factory.mktemp("adapt")
    manifest = write_manifest(root / "m.csv", real_ravdess_files(per_class=2))
    cfg, run = evaluation_config(data=[str(manifest)], models="logreg", normalize="corpus", **FAST)
    return train(cfg, root / "model", run=run, evaluate=False)


def test_a_predictor_is_never_mutated(corpus_model):
    from serkit.inference import Predictor

    files = [str(p) for p, _, _ in real_savee_files(speakers=("KL",), per_class=3)[:12]]
    plain = Predictor.load(corpus_model)
    before = (plain.bundle, plain.normalizer, plain.transductive)
    adapted = plain.adapt(files, transductive=True)
    assert (plain.bundle, plain.normalizer, plain.transductive) == before
    assert adapted is not plain and adapted.transductive and adapted.normalizer.adapted is not None
    assert adapted.extractors is plain.extractors  # shared, not reloaded
    rebuilt = Predictor.from_worker_spec(adapted.worker_spec())  # what a worker process predicts with
    assert rebuilt.normalizer.adapted.n == len(files) >= 10
    assert rebuilt.predict_files(files[:2]) == adapted.predict_files(files[:2])


def _copies(folder: Path, n: int, *, noise: float = 0.0) -> Path:
    import soundfile as sf

    folder.mkdir()
    source = real_savee_files(speakers=("KL",), per_class=1)[0][0]
    signal, rate = sf.read(source, dtype="float32")
    rng = np.random.default_rng(0)
    for i in range(n):
        if noise:
            sf.write(folder / f"{i:04d}.wav", signal + rng.normal(0, noise, signal.shape).astype(np.float32), rate,
                     subtype="FLOAT")
        else:
            shutil.copy(source, folder / f"{i:04d}{source.suffix}")
    return folder


@pytest.mark.parametrize(("noise", "needle"), [
    (0.0, "only 1 distinct feature vector(s) among 10: they are copies of each other"),
    (1e-5, "the adaptation recordings are near-identical: their feature spread is"),
])
def test_adapt_refuses_copies_of_one_recording_in_one_line(corpus_model, tmp_path, capsys, noise, needle):
    folder = _copies(tmp_path / "mine", 10 if not noise else 12, noise=noise)
    out = tmp_path / "adapted"
    code = main(["adapt", str(folder), "--model", str(corpus_model), "--output", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("serkit: error: ") and needle in err, err
    assert not out.exists()


def test_predict_adapt_refuses_copies_too(corpus_model, tmp_path, capsys):
    folder = _copies(tmp_path / "mine", 10)
    code = main(["predict", str(folder), "--model", str(corpus_model), "--adapt", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "they are copies of each other" in err and len(err.splitlines()) == 1, err
