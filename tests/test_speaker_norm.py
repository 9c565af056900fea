"""Per-speaker normalisation: statistics from each speaker's own files only, labelled in reports,
and a bundle trained with it refuses single-file prediction instead of silently mis-scaling."""

from __future__ import annotations

import numpy as np
import pytest

import fixtures as fx
from serkit.errors import SerkitError
from serkit.evaluation import evaluate, evaluation_config
from serkit.normalization import apply_groups, by_group


def test_each_speaker_is_normalised_with_its_own_statistics_only():
    rng = np.random.default_rng(0)
    speakers = np.array(["a"] * 5 + ["b"] * 5)
    values = rng.standard_normal((10, 3)).astype(np.float32)
    values[5:] += 100.0  # speaker b is far away: must not leak into a's statistics
    out = apply_groups(values, speakers, by_group(values, speakers))
    for s in ("a", "b"):
        k = speakers == s
        np.testing.assert_allclose(out[k].mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(out[k].std(axis=0), 1.0, atol=1e-3)
    np.testing.assert_allclose(out[:5], (values[:5] - values[:5].mean(0)) / (values[:5].std(0) + 1e-6), atol=1e-5)


def test_evaluation_is_labelled_and_bundle_needs_a_batch(tmp_path):
    manifest = fx.make_speaker_manifest(tmp_path / "data", speakers=4, per_class=4)
    config, run = evaluation_config(data=[str(manifest)], models=["logreg"], features="spectral_stats",
                                    normalize="speaker", jobs=1, progress=False)
    r = evaluate(config, run=run, output=tmp_path / "eval")
    assert r.protocol_label == "speaker-independent + per-speaker normalisation"
    assert "per-speaker normalisation" in (tmp_path / "eval" / "metrics.json").read_text()

    from serkit.inference import MIN_SPEAKER_FILES, Predictor
    from serkit.training import train

    bundle = train(config, tmp_path / "bundle", run=run, evaluate=False)
    p = Predictor.load(bundle)
    files = sorted(str(f) for f in (tmp_path / "data").rglob("*.wav"))
    with pytest.raises(SerkitError, match="per speaker"):
        p.predict_file(files[0])
    batch = p.predict_files(files[:MIN_SPEAKER_FILES])
    assert len(batch) == MIN_SPEAKER_FILES and all(x.ok for x in batch)
    assert all(abs(sum(x.probabilities.values()) - 1) < 1e-6 for x in batch)
