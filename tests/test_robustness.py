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


# --------------------------------------------------------------------------- a bad-input corpus through `serkit predict`

# A word the one error line must contain, beside the file's path.
BAD_INPUT_WORDS = {
    "empty": "empty file", "text": "not a recognised audio format", "truncated": "s missing",
    "header_only": "no samples", "rate_7hz": "sample rate 7 Hz", "nan": "NaN", "silence": "silent",
    "short": "too short", "folder": "no audio files found",
}


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict:
    return fx.make_bad_inputs(tmp_path_factory.mktemp("bad_inputs"))


@pytest.mark.parametrize("case", list(fx.BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_no_output_file(tmp_path, capsys, bad_inputs, case):
    path = bad_inputs[case]
    out_file = tmp_path / "predictions.json"
    rc = main(["predict", str(path), "--format", "json", "--output", str(out_file)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if fx.BAD_INPUTS[case][1] is None:  # valid audio in an unusual shape: predicted
        assert rc == 0 and err == "", err
        [result] = json.loads(out_file.read_text())
        assert result["path"] == str(path) and result["label"] and "error" not in result
        return
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("serkit: ") and str(path) in lines[0] and BAD_INPUT_WORDS[case] in lines[0], lines[0]
    assert out == "" and not out_file.exists()


def test_a_failed_prediction_leaves_an_existing_output_file_alone(tmp_path, capsys, bad_inputs):
    out_file = tmp_path / "predictions.json"
    yesterday = json.dumps([{"path": "yesterday.flac", "label": "happy"}], indent=2)  # serkit's: replaceable
    out_file.write_text(yesterday)
    assert main(["predict", str(bad_inputs["truncated"]), "--format", "json", "--output", str(out_file)]) == 2
    assert out_file.read_text() == yesterday
    assert "truncated" in capsys.readouterr().err


def test_a_streamed_flac_without_sample_count_is_predicted_like_the_original(tmp_path, capsys, shared_data):
    """`ffmpeg -i x.flac -f flac pipe:1 > y.flac` leaves total_samples = 0: the same samples, the same prediction."""
    original = fx.RAVDESS_ROOT / "Actor_02" / "03-01-05-02-01-01-02.flac"
    data, sr = sf.read(str(original), dtype="int16")
    streamed = tmp_path / "streamed.flac"
    streamed.write_bytes(fx.streamed_flac(data.astype(np.float32) / 32768, sr))
    with sf.SoundFile(str(streamed)) as f:
        assert f.frames > 2**40  # the header really gives no length
    out_file = tmp_path / "p.json"
    assert main(["predict", str(original), str(streamed), "--format", "json", "--output", str(out_file), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and err == ""
    a, b = json.loads(out_file.read_text())
    assert a["duration"] == b["duration"] == pytest.approx(len(data) / sr, abs=1e-3)
    assert (a["label"], a["probabilities"]) == (b["label"], b["probabilities"])


# --------------------------------------------------------------------------- MP3s without two frames
def id3_tag(padding: int = 100) -> bytes:
    """An ID3v2.4 tag of `padding` zero bytes (its size is 4 syncsafe 7-bit bytes)."""
    return b"ID3\x04\x00\x00" + bytes((padding >> s) & 0x7F for s in (21, 14, 7, 0)) + bytes(padding)


def mp3_frames(n: int) -> bytes:
    """The first n whole frames of a real MP3 (MPEG-2 layer III, 16 kHz, constant bitrate), as soundfile writes it."""
    raw = fx.wav_bytes(fx.synth(1.0, seed=12), 16_000, format="MP3")
    header = int.from_bytes(raw[:4], "big")
    assert header >> 21 == 0x7FF, "soundfile's MP3 starts with a frame"
    kbps = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)[(header >> 12) & 0xF]
    size = 72_000 * kbps // 16_000 + ((header >> 9) & 1)
    assert raw[size] == 0xFF, "frames of constant size"
    return raw[: n * size]


MP3_CASES = {  # what the file holds -> the words of its one message
    "id3-only": (lambda: id3_tag(), "contains no audio: an MP3 holding only an ID3 tag"),
    "id3-and-half-a-frame": (lambda: id3_tag() + mp3_frames(1)[:40], "contains no audio: an MP3 without a whole"),
    "id3-and-one-frame": (lambda: id3_tag() + mp3_frames(1), "an MP3 of a single audio frame"),
    "one-frame": (lambda: mp3_frames(1), "an MP3 of a single audio frame"),
}


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
@pytest.mark.parametrize("case", list(MP3_CASES))
def test_an_mp3_without_two_frames_is_one_message_from_the_cli_and_the_server(tmp_path, capfd, case):
    from fastapi.testclient import TestClient

    from serkit.inference import Predictor
    from serkit.server import create_app

    make, words = MP3_CASES[case]
    path = tmp_path / "song.mp3"
    path.write_bytes(make())
    assert main(["predict", str(path)]) == 2
    out, err = capfd.readouterr()  # the file descriptors: a C library's own writes to stderr are caught too
    assert out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"serkit: {path}: ") and words in err, err
    cli_problem = err.strip().split(f"{path}: ", 1)[1]
    assert "0x" not in err and "object at" not in err and "pipe" not in err and "does not exist" not in err
    with TestClient(create_app(Predictor.load())) as client:
        r = client.post("/api/predict", files={"file": ("song.mp3", path.read_bytes(), "audio/mpeg")})
    (message,) = r.json().values()
    assert message == f"song.mp3: {cli_problem}"  # the same words from the server
    assert r.status_code in (400, 422), r.text
    assert capfd.readouterr().err == ""  # nothing from the decoder on the server's stderr either


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
def test_a_damaged_mp3_gets_serkit_s_line_and_nothing_from_the_decoder(tmp_path, capfd):
    """libmpg123 prints its own warnings ("Xing stream size off", "Trying to resync") on stderr: they are kept off it."""
    raw = fx.wav_bytes(fx.synth(4.0, seed=10), 16_000, format="MP3")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(raw[: len(raw) // 2])
    assert main(["predict", str(cut)]) == 2
    err = capfd.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(f"serkit: {cut}: truncated: the header promises 4.000 s"), err
    patched = tmp_path / "resync.mp3"  # a damaged frame in the middle: the decoder skips it and goes on
    patched.write_bytes(raw[: len(raw) // 2] + b"\xff\xfb\x90" + raw[len(raw) // 2 + 500 :])
    assert main(["predict", str(patched), "--quiet"]) == 0
    out, err = capfd.readouterr()
    assert out.startswith(str(patched)) and err == "", err


def peak_rss_mb_of_predict(path) -> tuple[int, float, str]:
    """`serkit predict PATH` in a process of its own: (exit code, its peak RSS in MB, stderr)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import resource, sys; from serkit.cli import main; rc = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, "-c", code, "predict", str(path)], capture_output=True, text=True,
                          env=env, timeout=300)
    *lines, peak_kb = done.stderr.strip().splitlines()
    return done.returncode, int(peak_kb) / 1024, "\n".join(lines)


def test_a_decode_bomb_on_the_command_line_is_read_in_bounded_blocks(tmp_path, shared_data):
    """A long file is read block by block; a block is bounded in samples too, not only in seconds (30 s of 8
    channels at 384 kHz would be 92 M samples, 370 MB, at once)."""
    clip = fx.real_ravdess_files(actors=(1,), per_class=1)[0][0]
    bomb = tmp_path / "bomb.flac"
    bomb.write_bytes(fx.decode_bomb())
    rc, baseline, _ = peak_rss_mb_of_predict(clip)
    assert rc == 0
    rc, peak, err = peak_rss_mb_of_predict(bomb)
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith(f"serkit: {bomb}: "), err
    assert peak - baseline < 150, f"peak RSS {peak:.0f} MB against {baseline:.0f} MB for a real clip"
