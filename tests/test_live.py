"""Live prediction: ``StreamingPredictor``, the WebSocket ``/api/stream`` and ``serkit listen``.

Real RAVDESS clips and the bundled model throughout. No emotion label is asserted (the default model
is retrained from time to time): agreement with ``serkit predict`` on the same audio is.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import struct
import sys
import time
import weakref
from pathlib import Path

import fixtures as fx
import numpy as np
import pytest
import soundfile as sf
from conftest import require
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from serkit import audio, cli
from serkit.errors import AudioError, ConfigError, SerkitError
from serkit.inference import Predictor
from serkit.server import create_app
from serkit.server import live as live_module
from serkit.streaming import Message, StreamingPredictor, read_wav_header, sniff_container, summary_message

CHUNK_SAMPLES = (100, 1601, 4096, 24000)  # 6 ms to 1.5 s per message


@pytest.fixture(scope="module")
def predictor(shared_data) -> Predictor:
    return Predictor.load()


@pytest.fixture(scope="module")
def clips(shared_data) -> list[Path]:
    """One clip of each of RAVDESS's eight emotions, actor 1 (3.3-4.3 s each)."""
    emotions = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    return [path for path, _, _ in fx.real_ravdess_files(actors=(1,), emotions=emotions, per_class=1)]


@pytest.fixture(scope="module")
def conversation(clips, tmp_path_factory) -> Path:
    """Four real clips with pauses between them (~16 s): several speech segments."""
    pause = np.zeros(int(0.8 * audio.SAMPLE_RATE), dtype=np.float32)
    pieces = []
    for path in clips[2:6]:
        pieces += [audio.load(path), pause]
    return fx.write(tmp_path_factory.mktemp("live") / "conversation.flac", np.concatenate(pieces), audio.SAMPLE_RATE)


def pcm16(path: Path) -> np.ndarray:
    """The file's 16-bit samples: what a client would send, and exactly what the loader decodes."""
    data, rate = sf.read(str(path), dtype="int16")
    assert rate == audio.SAMPLE_RATE and data.ndim == 1
    return data


def chunks(samples: np.ndarray, size: int) -> list[bytes]:
    return [samples[k : k + size].astype("<i2").tobytes() for k in range(0, len(samples), size)]


def receive_all(ws) -> tuple[list[dict], int]:
    """Every JSON message until the server closes the socket, and the close code."""
    messages = []
    while True:
        message = ws.receive()
        if message["type"] == "websocket.close":
            return messages, message["code"]
        messages.append(json.loads(message["text"]))


def stream_over_socket(client: TestClient, messages: list[bytes | str | dict]) -> tuple[dict, list[dict], int]:
    """(ready, what followed, close code) for a stream that sends ``messages`` (dicts as JSON) then stop."""
    with client.websocket_connect("/api/stream") as ws:
        ready = ws.receive_json()
        for m in messages:
            if isinstance(m, bytes):
                ws.send_bytes(m)
            else:
                ws.send_text(m if isinstance(m, str) else json.dumps(m))
        ws.send_text(json.dumps({"type": "stop"}))
        rest, code = receive_all(ws)
    return ready, rest, code


def without_path(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in {"path", "type"}}


@pytest.fixture(scope="module")
def client(predictor):
    with TestClient(create_app(predictor, max_stream_lead=3600)) as c:  # tests send faster than real time
        yield c


# --------------------------------------------------------------------------- the library
def test_summary_equals_the_long_file_timeline_whatever_the_chunks(predictor, conversation) -> None:
    offline = predictor.predict_file(conversation, segment=True)
    assert offline.segments is not None and len(offline.segments) >= 3
    x = audio.load(conversation)
    rng = np.random.default_rng(0)
    for sizes in ([len(x)], [160], list(rng.integers(1, 20000, 200))):
        stream = StreamingPredictor(predictor, name=str(conversation))
        k, i = 0, 0
        while k < len(x):
            n = int(sizes[i % len(sizes)])
            stream.feed(x[k : k + n])
            k, i = k + n, i + 1
        assert stream.close().to_dict() == offline.to_dict()


def test_updates_cover_the_stream_and_mark_silence(predictor, clips) -> None:
    x = audio.load(clips[4])
    silence = np.zeros(3 * audio.SAMPLE_RATE, dtype=np.float32)
    stream = StreamingPredictor(predictor)
    updates = stream.feed(np.concatenate([x, silence]))
    total = (len(x) + len(silence)) / audio.SAMPLE_RATE
    assert updates[0].start == 0 and all(a.end == b.start for a, b in zip(updates, updates[1:]))
    assert total - stream.hop < updates[-1].end <= total
    assert not any(u.speech for u in updates if u.start >= len(x) / audio.SAMPLE_RATE)  # the silence
    assert all(u.label is None and u.smoothed_label is None for u in updates if not u.speech)
    labelled = [u for u in updates if u.label is not None]
    assert labelled and all(u.speech and u.speech_seconds >= 1.0 for u in labelled)
    for u in labelled:
        assert list(u.probabilities) == predictor.labels and abs(sum(u.probabilities.values()) - 1) < 1e-6
        assert u.smoothed_label in predictor.labels and u.smoothed_confidence == max(u.smoothed_probabilities.values())


def test_labels_during_speech_mostly_agree_with_predict(predictor, clips) -> None:
    agree = total = 0
    for path in clips:
        offline = predictor.predict_file(path).label  # what `serkit predict` says for the clip
        updates = StreamingPredictor(predictor).feed(audio.load(path))
        shown = [u.smoothed_label for u in updates if u.smoothed_label is not None]
        assert shown, f"{path.name}: no labelled hop"
        agree += sum(label == offline for label in shown)
        total += len(shown)
    assert agree / total > 0.6, f"{agree} of {total} labelled hops agree with the whole clip's label"


def test_no_speech_gives_the_same_error_as_predict(predictor, tmp_path) -> None:
    rng = np.random.default_rng(1)
    hiss = (0.01 * rng.standard_normal(3 * audio.SAMPLE_RATE)).astype(np.float32)
    path = fx.write(tmp_path / "hiss.wav", hiss, audio.SAMPLE_RATE)
    with pytest.raises(AudioError) as offline:
        predictor.predict_file(path, segment=True)
    stream = StreamingPredictor(predictor, name=str(path))
    assert not any(u.speech for u in stream.feed(audio.load(path)))
    summary = stream.close()
    assert summary.error == str(offline.value) and summary.label is None
    assert summary_message(summary)["segments"] == [] and summary_message(summary)["type"] == "summary"


STREAM_OPTION_ERRORS = [
    ({"hop": 0}, "--hop must be a number from 0.1 to 5, got 0"),
    ({"window": 60.0}, "--window must be a number from 0.5 to 30, got 60.0"),
    ({"hop": 2.0, "window": 1.0}, "--window (1 s) must be at least --hop (2 s)"),
    ({"smooth": 0}, "--smooth must be an integer from 1 to 100, got 0"),
    ({"smooth": 1.5}, "--smooth must be an integer from 1 to 100, got 1.5"),
    ({"sample_rate": 1000}, "--sample-rate must be an integer from 4000 to 384000, got 1000"),
]


def _python_spelling(message: str) -> str:
    """The library names parameters as Python does (`sample_rate`); the CLI respells them as flags."""
    for flag in ("--sample-rate", "--hop", "--window", "--smooth"):
        message = message.replace(flag, flag[2:].replace("-", "_"))
    return message


@pytest.mark.parametrize(("options", "message"), STREAM_OPTION_ERRORS)
def test_stream_options_are_range_checked(predictor, options, message) -> None:
    with pytest.raises(SerkitError) as exc:
        StreamingPredictor(predictor, **options)
    assert _python_spelling(message) in str(exc.value) and isinstance(exc.value, ValueError)
    assert set(exc.value.params) == set(options)


@pytest.mark.parametrize(("options", "message"), [c for c in STREAM_OPTION_ERRORS if c[0] != {"smooth": 1.5}])
def test_listen_options_are_range_checked_in_the_cli_spelling(options, message, capsys) -> None:
    argv = ["listen", "-", "--format", "jsonl"]
    for name, value in options.items():
        argv += ["--" + name.replace("_", "-"), str(value)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("serkit: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_bad_samples_and_use_after_close(predictor) -> None:
    stream = StreamingPredictor(predictor)
    with pytest.raises(AudioError, match="NaN"):
        stream.feed(np.array([0.0, np.nan], dtype=np.float32))
    with pytest.raises(AudioError, match="3 bytes is not a whole number of samples"):
        stream.feed_pcm16(b"\x00\x01\x02")
    stream.close()
    with pytest.raises(SerkitError, match="closed"):
        stream.feed(np.zeros(10, dtype=np.float32))


def test_containers_are_recognised_and_pcm_is_not_mistaken_for_one(clips) -> None:
    assert sniff_container(clips[0].read_bytes()) == "FLAC"
    assert sniff_container(fx.wav_bytes(fx.synth(0.1), 16000)) == "WAV"
    assert sniff_container(b"\x1a\x45\xdf\xa3" + bytes(40)) == "WebM/Matroska"
    assert sniff_container(pcm16(clips[0])[:4000].tobytes()) is None


# --------------------------------------------------------------------------- the WebSocket
@pytest.mark.parametrize("size", CHUNK_SAMPLES)
def test_websocket_stream_of_a_real_clip(client, predictor, clips, size) -> None:
    path = clips[4]
    samples = pcm16(path)
    ready, messages, code = stream_over_socket(client, chunks(samples, size))
    assert code == 1000
    assert ready["type"] == "ready" and ready["labels"] == predictor.labels and ready["hop"] == 0.5
    updates, summary = messages[:-1], messages[-1]
    assert all(m["type"] == "update" for m in updates) and summary["type"] == "summary"
    # The updates cover the clip, hop after hop.
    duration = len(samples) / audio.SAMPLE_RATE
    assert [m["start"] for m in updates] == [round(0.5 * i, 3) for i in range(len(updates))]
    assert duration - 0.5 < updates[-1]["end"] <= duration
    # Speech where the timeline has speech, and only there.
    offline = predictor.predict_file(path, segment=True)
    spans = [(s.start, s.end) for s in offline.segments]
    speech = [m for m in updates if m["speech"]]
    assert speech and all(any(m["start"] < e and m["end"] > s for s, e in spans) for m in speech)
    assert all(any(m["start"] < e and m["end"] > s for m in speech) for s, e in spans)
    # What the library says for the same audio, update for update; the summary is the long-file timeline.
    local = StreamingPredictor(predictor).feed(samples.astype(np.float32) / 32768)
    assert updates == [u.to_dict() for u in local]
    assert without_path(summary) == without_path(offline.to_dict())
    assert summary["path"] == "live"


def test_websocket_summary_of_a_conversation_is_the_long_file_timeline(client, predictor, conversation) -> None:
    _, messages, code = stream_over_socket(client, chunks(pcm16(conversation), 3000))
    offline = predictor.predict_file(conversation, segment=True).to_dict()
    assert code == 1000 and len(offline["segments"]) >= 3
    assert without_path(messages[-1]) == without_path(offline)
    updates = messages[:-1]
    assert sum(m["speech"] for m in updates) >= 10


def test_declared_sample_rate_is_resampled(client, predictor, clips) -> None:
    import soxr

    path = clips[4]
    x = audio.load(path)
    high = np.clip(np.round(soxr.resample(x, 16000, 48000) * 32768), -32768, 32767).astype("<i2")
    start = {"type": "start", "sample_rate": 48000, "encoding": "pcm_s16le", "channels": 1}
    _, messages, code = stream_over_socket(client, [start, *chunks(high, 4096)])
    assert code == 1000
    summary, offline = messages[-1], predictor.predict_file(path, segment=True)
    got = [t for s in summary["segments"] for t in (s["start"], s["end"])]
    assert got == pytest.approx([t for s in offline.segments for t in (s.start, s.end)], abs=0.05)
    assert summary["duration"] == pytest.approx(offline.duration, abs=0.01)
    for label, p in offline.probabilities.items():
        assert abs(summary["probabilities"][label] - p) < 0.05, label


def refused(client: TestClient, messages: list[bytes | str | dict], **kwargs) -> tuple[str, int, list[dict]]:
    """(error message, close code, messages before it) for a stream the server ends with an error."""
    with client.websocket_connect("/api/stream", **kwargs) as ws:
        assert ws.receive_json()["type"] == "ready"
        for m in messages:
            if isinstance(m, bytes):
                ws.send_bytes(m)
            else:
                ws.send_text(m if isinstance(m, str) else json.dumps(m))
        got, code = receive_all(ws)
    errors = [m for m in got if m["type"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == code, got
    return errors[0]["error"], code, [m for m in got if m["type"] != "error"]


SPEECH = fx.synth(1.0, seed=3)
PCM = (SPEECH * 32767).astype("<i2").tobytes()


@pytest.mark.parametrize(("messages", "code", "words"), [
    ([PCM[:3001]], 1007, "3001 bytes is not a whole number of 16-bit samples"),
    ([PCM, PCM[:5]], 1007, "5 bytes is not a whole number"),
    ([fx.wav_bytes(SPEECH, 16000)], 1003, "WAV file, not raw PCM"),
    ([b"\x1a\x45\xdf\xa3" + bytes(500)], 1003, "WebM/Matroska file, not raw PCM"),
    (["hello"], 1003, "text message 'hello' where audio was expected"),
    ([PCM, "more audio"], 1003, "where audio was expected"),
    ([{"type": "start", "sample_rate": 0}], 1007, "sample_rate must be an integer from 4000 to 384000, got 0"),
    ([{"type": "start", "sample_rate": "fast"}], 1007, "got 'fast'"),
    ([{"type": "start", "sample_rate": 44100.5}], 1007, "got 44100.5"),
    ([{"type": "start", "sample_rate": 10**7}], 1007, "got 10000000"),
    ([{"type": "start", "rate": 48000}], 1007, "unknown field(s) 'rate' in the start message"),
    ([{"type": "start", "encoding": "opus"}], 1007, "encoding 'opus' is not supported"),
    ([{"type": "start", "channels": 2}], 1007, "send mono"),
    ([PCM, {"type": "start", "sample_rate": 48000}], 1007, "'start' must be the first message"),
    ([{"type": "pause"}], 1007, "unknown message type 'pause'"),
    ([bytes(70 * 1024)], 1009, "message of 71680 bytes: the limit is 65536 bytes"),
])
def test_bad_input_gets_an_error_and_a_clean_close(client, messages, code, words) -> None:
    message, got_code, _ = refused(client, messages)
    assert got_code == code and words in message
    # The server keeps serving: a good stream right after.
    _, after, ok = stream_over_socket(client, [PCM])
    assert ok == 1000 and after[-1]["type"] == "summary"
    assert client.get("/api/health").json()["live_streams"] == 0


def test_faster_than_real_time_is_refused_not_queued(predictor, clips) -> None:
    with TestClient(create_app(predictor, max_stream_lead=1.0)) as c:
        message, code, before = refused(c, chunks(pcm16(clips[4]), 8000))  # 4 s of audio at once
        assert code == 1008 and "faster than real time" in message and "refused, not queued" in message
        assert 1 <= len(before) <= 3  # the updates of the audio within the allowance


def test_stream_longer_than_the_limit_gets_its_summary_then_ends(predictor, clips) -> None:
    samples = pcm16(clips[4])
    with TestClient(create_app(predictor, max_stream_seconds=2.5, max_stream_lead=3600)) as c:
        message, code, before = refused(c, chunks(samples, 4000))
    assert code == 1008 and "limit of 2.5 s of audio" in message
    assert before[-1]["type"] == "summary" and before[-1]["duration"] == pytest.approx(2.5, abs=0.01)
    assert [m["end"] for m in before[:-1]] == [0.5, 1.0, 1.5, 2.0, 2.5]


def test_silent_client_is_closed(predictor) -> None:
    with TestClient(create_app(predictor, read_timeout=0.3)) as c:
        message, code, _ = refused(c, [])
    assert code == 1008 and "no message for 0.3 s" in message


def test_cross_origin_page_cannot_open_a_stream(client) -> None:
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/api/stream", headers={"origin": "http://evil.example"}):
            pass
    assert denied.value.status_code == 403 and "cross-origin" in denied.value.json()["error"]
    with client.websocket_connect("/api/stream", headers={"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "ready"


def test_ninth_stream_is_refused_while_eight_are_open(predictor) -> None:
    with TestClient(create_app(predictor)) as c:
        assert c.get("/api/health").json()["max_streams"] == 8
        with contextlib.ExitStack() as open_streams:
            for _ in range(8):
                ws = open_streams.enter_context(c.websocket_connect("/api/stream"))
                assert ws.receive_json()["type"] == "ready"
                ws.send_bytes(PCM)
            assert c.get("/api/health").json()["live_streams"] == 8
            with c.websocket_connect("/api/stream") as ninth:
                error, code = receive_all(ninth)
            assert code == 1013 and error == [{"type": "error", "code": 1013, "error":
                                                "server busy: 8 live streams are open (limit 8); try again later"}]
        assert c.get("/api/health").json()["live_streams"] == 0
        *_, ok = stream_over_socket(c, [PCM])  # a slot again
        assert ok == 1000


def test_disconnect_mid_stream_frees_everything(predictor, clips, monkeypatch) -> None:
    made: weakref.WeakSet = weakref.WeakSet()

    class Tracked(StreamingPredictor):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.add(self)

    monkeypatch.setattr(live_module, "StreamingPredictor", Tracked)
    with TestClient(create_app(predictor, max_streams=1, max_stream_lead=3600)) as c:
        with c.websocket_connect("/api/stream") as ws:
            ws.receive_json()
            for data in chunks(pcm16(clips[4])[:40000], 4000):
                ws.send_bytes(data)
            assert ws.receive_json()["type"] == "update"
        # gone without a stop message: the slot and the stream's state are given back
        deadline = time.monotonic() + 10
        while c.get("/api/health").json()["live_streams"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get("/api/health").json()["live_streams"] == 0
        gc.collect()
        assert len(made) == 0
        *_, ok = stream_over_socket(c, [PCM])  # the one slot is free
        assert ok == 1000


@pytest.mark.parametrize(("field", "value"), [("max_streams", 0), ("max_streams", 1.5), ("max_stream_seconds", 0),
                                              ("max_message_kb", 0), ("max_stream_lead", float("nan")),
                                              ("max_stream_messages", 0)])
def test_stream_settings_are_range_checked(field, value) -> None:
    from serkit.server import ServerSettings

    with pytest.raises(ConfigError, match=rf"{field} must be .* got"):
        ServerSettings(**{field: value})


def test_serve_stream_options_are_range_checked(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--max-streams", "0"])
    assert exit_.value.code == 2
    assert "--max-streams: must be an integer from 1 to 1024, got '0'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", "--max-stream-messages", "0"])
    assert exit_.value.code == 2 and "--max-stream-messages: must be" in capsys.readouterr().err


# --------------------------------------------------------------------------- serkit listen
def run_listen(capsys, argv: list[str]) -> tuple[int, str, str]:
    rc = cli.main(["listen", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_listen_file_prints_a_line_per_hop_then_the_predict_timeline(capsys, predictor, conversation) -> None:
    rc, out, err = run_listen(capsys, [str(conversation)])
    assert rc == 0, err
    lines = out.splitlines()
    summary_at = next(i for i, line in enumerate(lines) if line.startswith("summary"))
    hops = lines[:summary_at]
    duration = sf.info(str(conversation)).duration
    assert len(hops) == int(duration / 0.5)
    assert [float(line.split()[0]) for line in hops] == [0.5 * (i + 1) for i in range(len(hops))]
    offline = predictor.predict_file(conversation, segment=True)
    assert lines[summary_at].split()[1:3] == [offline.label, f"{offline.confidence:.2f}"]
    assert cli.main(["predict", str(conversation), "--segment", "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()[1:]  # the segment lines of `serkit predict`
    assert [line.strip() for line in lines[summary_at + 1 :]] == [line.strip() for line in table]


def test_listen_jsonl_summary_equals_predict_json(capsys, conversation) -> None:
    rc, out, _ = run_listen(capsys, [str(conversation), "--format", "jsonl"])
    assert rc == 0
    messages = [json.loads(line) for line in out.splitlines()]
    assert {m["type"] for m in messages[:-1]} == {"update"} and messages[-1]["type"] == "summary"
    assert cli.main(["predict", str(conversation), "--segment", "--format", "json", "--quiet"]) == 0
    predicted = json.loads(capsys.readouterr().out)[0]
    assert without_path(messages[-1]) == without_path(predicted)
    assert messages[-1]["path"] == predicted["path"] == str(conversation)


def stdin_of(data: bytes):
    return io.TextIOWrapper(io.BufferedReader(io.BytesIO(data)))


def test_listen_stdin_raw_pcm_equals_listen_file(capsys, monkeypatch, conversation) -> None:
    rc, from_file, _ = run_listen(capsys, [str(conversation), "--format", "jsonl"])
    monkeypatch.setattr(sys, "stdin", stdin_of(pcm16(conversation).tobytes()))
    rc2, from_stdin, err = run_listen(capsys, ["-", "--format", "jsonl"])
    assert rc == rc2 == 0, err
    a, b = [json.loads(x) for x in from_file.splitlines()], [json.loads(x) for x in from_stdin.splitlines()]
    assert a[:-1] == b[:-1] and without_path(a[-1]) == without_path(b[-1]) and b[-1]["path"] == "<stdin>"


def arecord_stream(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    """What `arecord -f S16_LE -r RATE -c N` writes to a pipe: a WAV header with placeholder sizes, then PCM."""
    frame = 2 * channels
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * frame, frame, 16)
    head = b"RIFF" + struct.pack("<I", 0x7FFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    head += b"data" + struct.pack("<I", 0x7FFFFFFF)
    return head + np.repeat(samples[:, None], channels, axis=1).astype("<i2").tobytes()


def test_listen_stdin_reads_an_arecord_wav_stream(capsys, monkeypatch, predictor, clips) -> None:
    samples = pcm16(clips[4])
    monkeypatch.setattr(sys, "stdin", stdin_of(arecord_stream(samples, 16000, channels=2)))
    rc, out, err = run_listen(capsys, ["-", "--format", "jsonl"])
    assert rc == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert without_path(summary) == without_path(predictor.predict_file(clips[4], segment=True).to_dict())


def test_read_wav_header_refuses_what_it_cannot_stream() -> None:
    float_wav = fx.wav_bytes(fx.synth(0.2), 16000)[:20] + struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)
    with pytest.raises(AudioError, match="32-bit format 3: only 16-bit PCM"):
        read_wav_header(io.BytesIO(float_wav + b"data\x00\x00\x00\x00").read)
    fmt, rest = read_wav_header(io.BytesIO(b"\x01\x02" * 10).read)
    assert fmt is None and rest == b"\x01\x02" * 6  # raw PCM: the bytes read so far are samples


@pytest.mark.parametrize(("argv", "words"), [
    (["--hop", "0"], "--hop must be a number from 0.1 to 5, got 0.0"),
    (["--smooth", "0"], "--smooth must be an integer from 1 to 100, got 0"),
    (["-", "--sample-rate", "100"], "--sample-rate must be an integer from 4000 to 384000, got 100"),
    (["--sample-rate", "16000"], "--sample-rate describes raw PCM on standard input"),
    (["-", "--realtime"], "--realtime paces a FILE"),
    (["--realtime"], "--realtime paces a FILE"),
    (["FILE", "--device", "1"], "--device chooses a microphone"),
    (["missing.wav"], "missing.wav: file not found"),
])
def test_listen_bad_options_are_one_line(capsys, monkeypatch, clips, argv, words) -> None:
    argv = [str(clips[0]) if a == "FILE" else a for a in argv]
    if "--hop" in argv or "--smooth" in argv:
        argv = [str(clips[0]), *argv]
    monkeypatch.setattr(sys, "stdin", stdin_of(PCM))
    rc, out, err = run_listen(capsys, argv)
    assert rc == 2 and out == ""
    assert err.startswith("serkit: error: ") and words in err and len(err.strip().splitlines()) == 1


def test_listen_stdin_with_a_flac_file_says_what_to_send(capsys, monkeypatch, clips) -> None:
    monkeypatch.setattr(sys, "stdin", stdin_of(clips[0].read_bytes()))
    rc, _, err = run_listen(capsys, ["-"])
    assert rc == 2 and "FLAC data, not raw PCM" in err and len(err.strip().splitlines()) == 1


def test_listen_without_sounddevice_says_what_to_install(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as when the package is missing
    rc, _, err = run_listen(capsys, [])
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "pip install sounddevice" in err and "serkit listen -" in err


def test_listen_without_portaudio_says_what_to_install(capsys, monkeypatch) -> None:
    class NoPortAudio:
        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")  # what sounddevice raises without libportaudio2

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    rc, _, err = run_listen(capsys, ["--list-devices"])
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "apt-get install libportaudio2" in err and "serkit listen -" in err


def test_listen_with_a_microphone_that_is_not_there(capsys) -> None:
    try:
        import sounddevice  # noqa: F401

        installed = True
    except (ImportError, OSError):
        installed = False
    require(installed, "sounddevice with the PortAudio library (pip install sounddevice; apt-get install libportaudio2)")
    rc, out, err = run_listen(capsys, ["--device", "999"])
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--device 999: not a microphone" in err and "serkit listen -" in err


def test_listen_realtime_takes_the_clip_s_duration(capsys, tmp_path, clips) -> None:
    short = fx.write(tmp_path / "short.wav", audio.load(clips[4])[: 2 * audio.SAMPLE_RATE], audio.SAMPLE_RATE)
    t0 = time.monotonic()
    rc, out, _ = run_listen(capsys, [str(short), "--realtime", "--format", "jsonl"])
    took = time.monotonic() - t0
    assert rc == 0 and 1.9 <= took < 10
    t0 = time.monotonic()
    rc, fast, _ = run_listen(capsys, [str(short), "--format", "jsonl"])
    assert rc == 0 and time.monotonic() - t0 < took and fast == out


def test_listen_defaults_are_the_streaming_defaults() -> None:
    from serkit import streaming
    from serkit.cli import listen

    assert (listen.DEFAULT_HOP, listen.DEFAULT_WINDOW, listen.DEFAULT_SMOOTH) == (
        streaming.HOP_SECONDS, streaming.WINDOW_SECONDS, streaming.SMOOTH_HOPS)


def test_message_types_are_the_protocol_s() -> None:
    assert {m.value for m in Message} == {"ready", "start", "update", "stop", "summary", "error"}


# --------------------------------------------------------------------------- under uvicorn
@pytest.fixture
def uvicorn_server(predictor):
    """The app under a real uvicorn with the configuration `serkit serve` uses, on a free local port."""
    from fixtures import serving
    from serkit.server import ServerSettings

    settings = ServerSettings(max_message_kb=4, max_stream_lead=3600, allowed_hosts=("127.0.0.1",))
    with serving(create_app(predictor, settings=settings), settings) as port:
        yield f"ws://127.0.0.1:{port}/api/stream"


def test_real_server_streams_and_bounds_messages(uvicorn_server, predictor, clips) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    samples = pcm16(clips[4])
    with connect(uvicorn_server) as ws:
        assert json.loads(ws.recv())["max_message_bytes"] == 4096
        for data in chunks(samples, 2048):
            ws.send(data)
        ws.send(json.dumps({"type": "stop"}))
        got = [json.loads(m) for m in ws]
        assert ws.close_code == 1000
    offline = predictor.predict_file(clips[4], segment=True).to_dict()
    assert without_path(got[-1]) == without_path(offline)
    # Over the limit: the stream's own message; far over it: cut by the protocol layer before it is buffered.
    with connect(uvicorn_server) as ws:
        ws.recv()
        ws.send(bytes(6000))
        assert "message of 6000 bytes: the limit is 4096 bytes" in json.loads(ws.recv())["error"]
        with pytest.raises(ConnectionClosed):
            ws.recv()
        assert ws.close_code == 1009
    with connect(uvicorn_server) as ws:
        ws.recv()
        ws.send(bytes(64 * 1024))
        with pytest.raises(ConnectionClosed):
            ws.recv()
        assert ws.close_code == 1009


# --------------------------------------------------------------------------- floods, against `serkit serve` itself
@contextlib.contextmanager
def serve_cli(*options: str):
    """`serkit serve` in its own process on a free loopback port, once it answers: (process, port)."""
    import os
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "serkit.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             *options], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "serkit serve did not answer within 90 s"
                time.sleep(0.2)
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux: /proc/PID/stat, fields 14 and 15, in clock ticks)."""
    import os

    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flood(port: int, *, seconds: float, hard_close: bool = False) -> tuple[int, int | None, str, float]:
    """2-byte binary messages as fast as one client sends them, for `seconds` or until the server closes:
    (messages sent, close code, close reason, seconds until the server closed or we stopped)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    sent = 0
    with connect(f"ws://127.0.0.1:{port}/api/stream", max_queue=None) as ws:
        assert json.loads(ws.recv())["type"] == "ready"
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < seconds:
                ws.send(b"\x10\x00")
                sent += 1
        except ConnectionClosed:
            pass
        elapsed = time.monotonic() - t0
        if hard_close:  # the TCP connection reset under the server: no close frame, nothing more read
            ws.socket.setsockopt(socket_module().SOL_SOCKET, socket_module().SO_LINGER, struct.pack("ii", 1, 0))
            ws.socket.close()
            return sent, None, "", elapsed
        try:
            for _ in ws:
                pass
        except ConnectionClosed:
            pass
        return sent, ws.close_code, ws.close_reason or "", elapsed


def socket_module():
    import socket

    return socket


def test_a_message_flood_is_closed_within_a_bound_on_time_and_server_cpu(shared_data) -> None:
    """The case found in review: 228,614 two-byte messages in 4 s were all taken, and cost 34 s of server CPU.
    Now the message rate is bounded (--max-stream-messages, a second's worth after a burst): 1008 at once."""
    with serve_cli("--max-stream-lead", "3600") as (proc, port):
        cpu0 = cpu_seconds(proc.pid)
        sent, code, reason, elapsed = flood(port, seconds=4.0)
        time.sleep(1.0)  # whatever the server still does for the stream
        cpu = cpu_seconds(proc.pid) - cpu0
    assert code == 1008 and "more than 100 messages a second" in reason, (code, reason, sent)
    assert elapsed < 2.0, f"closed after {elapsed:.1f} s and {sent} messages"
    assert cpu < 2.0, f"{cpu:.1f} s of server CPU for {sent} messages"


def test_a_client_that_goes_mid_flood_costs_nothing_more(shared_data) -> None:
    """A flood within the message rate, then the connection reset: the server stops within a second."""
    with serve_cli("--max-stream-lead", "3600", "--max-stream-messages", "100000") as (proc, port):
        sent, _, _, _ = flood(port, seconds=3.0, hard_close=True)
        time.sleep(1.0)
        cpu0 = cpu_seconds(proc.pid)
        time.sleep(2.0)
        cpu_after = cpu_seconds(proc.pid) - cpu0
    assert cpu_after < 0.3, f"{cpu_after:.2f} s of server CPU from 1 to 3 s after the client went ({sent} messages)"
