"""Bad input found in review: each gives one clear error, never a traceback or lost user files."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

import fixtures as fx
from serkit import audio
from serkit.cli import main
from serkit.errors import AudioError, BundleError


def test_train_refuses_a_folder_that_merely_has_a_config_json(tmp_path):
    out = tmp_path / "my-app"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"name": "my app"}))
    (out / "thesis.tex").write_text("precious")
    manifest = fx.make_speaker_manifest(tmp_path / "data", speakers=2, per_class=2)
    from serkit.evaluation import evaluation_config
    from serkit.training import train

    config, run = evaluation_config(data=[str(manifest)], models="logreg", progress=False, jobs=1)
    with pytest.raises(BundleError, match="not a serkit bundle"):
        train(config, out, run=run, evaluate=False)
    assert (out / "thesis.tex").read_text() == "precious"


def test_upload_length_is_bounded_before_decoding():
    buf = io.BytesIO()
    sf.write(buf, np.full(16000 * 30, 0.25, dtype=np.float32), 16000, format="FLAC")
    with pytest.raises(AudioError, match="too long"):
        audio.load(buf.getvalue(), name="big.flac", max_duration=10.0)


def test_a_corrupt_long_file_is_an_audio_error_while_streaming(tmp_path):
    f = tmp_path / "long.flac"
    sf.write(f, (fx.synth(70.0, seed=1)).astype(np.float32), 16000, format="FLAC")
    raw = bytearray(f.read_bytes())
    for k in range(len(raw) // 2, len(raw) // 2 + 4000):
        raw[k] = 0xFF  # scramble the middle of the stream
    f.write_bytes(bytes(raw))
    with pytest.raises(AudioError) as err:
        for _ in audio.iter_blocks(f, block_seconds=5.0):
            pass
    assert str(f) in str(err.value)


def test_predict_exits_2_when_nothing_could_be_predicted(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nowhere.wav"), "--quiet"]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_file_given_twice_is_read_once(tmp_path):
    manifest = fx.make_speaker_manifest(tmp_path / "data", speakers=2, per_class=2)
    from serkit.corpora import load_dataset

    once = load_dataset([str(manifest)])
    twice = load_dataset([str(manifest), str(manifest)])
    assert len(twice.table) == len(once.table)
    assert any("duplicate" in s.reason for c in twice.corpora for s in c.skipped)


def test_output_that_is_a_folder_is_one_line(tmp_path, capsys):
    manifest = fx.make_speaker_manifest(tmp_path / "data", speakers=2, per_class=2)
    assert main(["corpus", "scan", str(manifest), "--format", "csv", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("serkit: error:") and "is a folder" in err[0]
