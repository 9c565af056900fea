"""`serkit listen`: live emotion from the microphone, standard input or a file, one line per hop.

Every source goes through ``serkit.streaming.StreamingPredictor``, as the web server's live stream does,
and ends with the same timeline ``serkit predict`` gives for the whole audio. The microphone is read
with PortAudio (``sounddevice``), imported only when the microphone is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from serkit.cli.options import Formatter, add_predictor_options
from serkit.cli.output import EXIT_OK, EXIT_PARTIAL, segment_line
from serkit.stream_options import (
    HOP_SECONDS,
    SMOOTH_HOPS,
    STREAM_BOUNDS,
    WINDOW_SECONDS,
)

if TYPE_CHECKING:
    import numpy as np

STDIN = "-"
# A stream's defaults and ranges, declared once in serkit.stream_options (light: `serkit --help` stays fast).
DEFAULT_HOP, DEFAULT_WINDOW, DEFAULT_SMOOTH = HOP_SECONDS, WINDOW_SECONDS, SMOOTH_HOPS
BLOCK_SECONDS = 0.1  # how much audio each read hands on: a tenth of a second keeps updates prompt
MIC_BACKLOG_SECONDS = 5.0  # microphone audio waiting to be processed; past this it is dropped (and said so)
PIPE_HINT = "arecord -f S16_LE -r 16000 -c 1 | serkit listen -"


def register(sub: argparse._SubParsersAction) -> None:
    ls = sub.add_parser(
        "listen",
        help="live emotion from the microphone, standard input or a file",
        formatter_class=Formatter,
        description="Predict emotion while someone speaks: one line per hop (time, label, confidence), then the "
        "timeline of speech segments, as `serkit predict` gives for the whole recording. Reads the "
        "default microphone (PortAudio), --device N another one, '-' raw 16-bit mono PCM from standard "
        f"input (`{PIPE_HINT}`), or a FILE (as fast as possible, or at real-time pace with --realtime). "
        "Stop with Ctrl-C.",
    )
    ls.add_argument(
        "source",
        nargs="?",
        default=None,
        metavar="SOURCE",
        help="'-' for 16-bit little-endian PCM on standard input (a WAV header, as arecord writes, is "
        "read too), or an audio file; none: the microphone",
    )
    ls.add_argument(
        "--device",
        default=None,
        metavar="N",
        help="microphone: PortAudio device number, or part of its name (see --list-devices)",
    )
    ls.add_argument("--list-devices", action="store_true", help="list the microphones PortAudio sees, and exit")
    ls.add_argument(
        "--sample-rate",
        type=int,
        default=None,
        metavar="HZ",
        help="sample rate of raw PCM on standard input (default: 16000; a WAV header's rate wins)",
    )
    ls.add_argument(
        "--realtime", action="store_true", help="play FILE at real-time pace (default: as fast as possible)"
    )
    ls.add_argument(
        "--format",
        default="text",
        choices=["text", "jsonl"],
        help="text: a line per hop for people; jsonl: one JSON object per hop, then the summary",
    )
    add_predictor_options(ls)
    ls.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        metavar="P",
        help="below this top probability the label is 'uncertain'",
    )
    hop, window, smooth = (STREAM_BOUNDS[k] for k in ("hop", "window", "smooth"))
    ls.add_argument(
        "--hop",
        type=float,
        default=DEFAULT_HOP,
        metavar="S",
        help=f"seconds between updates ({hop.low:g}-{hop.high:g})",
    )
    ls.add_argument(
        "--window",
        type=float,
        default=DEFAULT_WINDOW,
        metavar="S",
        help="seconds of audio each update's label is predicted from, once they hold 1 s of speech "
        f"({window.low:g}-{window.high:g}, at least --hop)",
    )
    ls.add_argument(
        "--smooth",
        type=int,
        default=DEFAULT_SMOOTH,
        metavar="N",
        help=f"the shown label averages the probabilities of the last N labelled hops ({smooth.low:g}-{smooth.high:g})",
    )
    ls.set_defaults(handler=cmd_listen)


# -- sources: (sample rate, iterator of mono float32 blocks) -----------------------------------------
def import_sounddevice() -> Any:
    """sounddevice, or a one-line error saying what to install (or to pipe audio in instead)."""
    from serkit.errors import MissingExtraError, SerkitError

    try:
        import sounddevice
    except ImportError:
        raise MissingExtraError(
            "live", "the microphone (serkit listen)", f"or pip install sounddevice; or pipe audio in: {PIPE_HINT}"
        ) from None
    except OSError:  # the package is there, the PortAudio library is not
        raise SerkitError(
            "the microphone needs the PortAudio library, which is not installed: apt-get install "
            "libportaudio2 (Debian, Ubuntu), dnf install portaudio (Fedora), brew install portaudio "
            f"(macOS); or pipe audio in: {PIPE_HINT}"
        ) from None
    return sounddevice


def device_argument(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


def input_device(sd: Any, device: int | str | None) -> dict[str, Any]:
    """PortAudio's description of the microphone to use, or a one-line error."""
    from serkit.errors import SerkitError

    try:
        return dict(sd.query_devices(device, kind="input"))
    except (sd.PortAudioError, ValueError) as exc:
        inputs = [i for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
        seen = f"input devices: {', '.join(map(str, inputs))}" if inputs else "PortAudio sees no input device"
        what = "no default microphone" if device is None else f"--device {device}: not a microphone ({exc})"
        raise SerkitError(f"{what}; {seen} (serkit listen --list-devices); or pipe audio in: {PIPE_HINT}") from None


def list_devices() -> int:
    sd = import_sounddevice()
    try:
        default = sd.default.device[0]
    except (TypeError, IndexError):
        default = -1
    found = False
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0:
            found = True
            mark = "*" if i == default else " "
            print(f"{mark}{i:3d}  {d['name']}  ({d['max_input_channels']} ch, {d['default_samplerate']:g} Hz)")
    if not found:
        print("no microphone found (PortAudio sees no input device)", file=sys.stderr)
    return EXIT_OK


def microphone(device: int | str | None, dropped: list[int]) -> tuple[int, Iterator[np.ndarray]]:
    """The microphone at its own rate. Blocks wait in a bounded queue; when processing falls behind by more
    than MIC_BACKLOG_SECONDS the newest audio is dropped and counted in ``dropped`` (samples)."""
    import queue

    sd = import_sounddevice()
    info = input_device(sd, device)
    rate = int(info["default_samplerate"])
    block = max(1, int(rate * BLOCK_SECONDS))
    waiting: queue.Queue[np.ndarray] = queue.Queue(maxsize=max(1, int(MIC_BACKLOG_SECONDS / BLOCK_SECONDS)))

    def callback(indata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        try:
            waiting.put_nowait(indata[:, 0].copy())
        except queue.Full:
            dropped[0] += frames

    def blocks() -> Iterator[np.ndarray]:
        from serkit.errors import SerkitError

        try:
            stream = sd.InputStream(
                device=device, channels=1, samplerate=rate, dtype="float32", blocksize=block, callback=callback
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise SerkitError(
                f"cannot open the microphone {info.get('name', device)!r}: {exc}; or pipe audio in: {PIPE_HINT}"
            ) from None
        with stream:
            while True:
                yield waiting.get()

    return rate, blocks()


def standard_input(sample_rate: int | None, stdin: Any) -> tuple[int, Iterator[np.ndarray]]:
    """Raw 16-bit PCM (or a WAV stream) from standard input, in blocks as they arrive."""
    from serkit.streaming import PCM_BYTES, decode_pcm16, read_wav_header

    raw = getattr(stdin, "buffer", stdin)
    read: Callable[[int], bytes] = getattr(raw, "read1", raw.read)
    fmt, head = read_wav_header(read, name="<stdin>")
    rate = fmt.sample_rate if fmt is not None else (sample_rate or 16000)
    if fmt is not None and sample_rate is not None and sample_rate != fmt.sample_rate:
        print(
            f"serkit: the WAV header on standard input says {fmt.sample_rate} Hz; --sample-rate {sample_rate} "
            "is ignored",
            file=sys.stderr,
        )
    channels = fmt.channels if fmt is not None else 1
    frame = PCM_BYTES * channels
    chunk = max(frame, int(rate * BLOCK_SECONDS) * frame)

    def blocks() -> Iterator[np.ndarray]:
        pending = head
        while True:
            data = read(chunk)
            if not data:
                break
            pending += data
            whole = len(pending) - len(pending) % frame
            if whole:
                yield decode_pcm16(pending[:whole], name="<stdin>", channels=channels)
                pending = pending[whole:]
        if len(pending) >= frame:
            whole = len(pending) - len(pending) % frame
            yield decode_pcm16(pending[:whole], name="<stdin>", channels=channels)
            pending = pending[whole:]
        if pending:
            print(
                f"serkit: standard input ended inside a sample ({len(pending)} byte(s) left over, ignored)",
                file=sys.stderr,
            )

    return rate, blocks()


def audio_file(path: str, *, realtime: bool) -> tuple[int, Iterator[np.ndarray]]:
    """A file decoded to 16 kHz in small blocks; at real-time pace with ``realtime``."""
    from serkit import audio

    audio.info(path)  # a missing or unreadable file is an error before anything is printed

    def blocks() -> Iterator[np.ndarray]:
        started = time.monotonic()
        done = 0
        for block in audio.iter_blocks(path, block_seconds=BLOCK_SECONDS):
            done += len(block)
            if realtime:  # a block is handed on once it would have been recorded
                delay = started + done / audio.SAMPLE_RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield block

    return audio.SAMPLE_RATE, blocks()


# -- output ---------------------------------------------------------------------------------------
def update_line(update: Any) -> str:
    when = f"{update.end:8.2f} s"
    if not update.speech:
        return f"{when}  -"
    if update.smoothed_label is None:
        return f"{when}  (speech: {update.speech_seconds:.1f} s heard, listening)"
    return (
        f"{when}  {update.smoothed_label:10s} {update.smoothed_confidence:5.2f}   "
        f"(last {update.speech_seconds:.1f} s of speech: {update.label} {update.confidence:.2f})"
    )


def cmd_listen(args: argparse.Namespace) -> int:
    from serkit.errors import SerkitError
    from serkit.inference import Predictor
    from serkit.streaming import StreamingPredictor, check_options, summary_message

    if args.list_devices:
        return list_devices()
    source = args.source
    if args.device is not None and source is not None:
        raise SerkitError(f"--device chooses a microphone; it does not apply to SOURCE {source!r}")
    if args.realtime and (source is None or source == STDIN):
        raise SerkitError("--realtime paces a FILE; the microphone and standard input run at their own pace")
    if args.sample_rate is not None and source != STDIN:
        raise SerkitError(
            "--sample-rate describes raw PCM on standard input (SOURCE '-'); a file and the microphone give their own"
        )
    rate_option = {} if args.sample_rate is None else {"sample_rate": args.sample_rate}
    check_options(hop=args.hop, window=args.window, smooth=args.smooth, **rate_option)  # before anything starts
    # The source first: a missing file or microphone is reported before the model loads.
    dropped = [0]
    if source is None:
        rate, blocks = microphone(device_argument(args.device), dropped)
        name = "<microphone>"
    elif source == STDIN:
        rate, blocks = standard_input(args.sample_rate, sys.stdin)
        name = "<stdin>"
    else:
        rate, blocks = audio_file(source, realtime=args.realtime)
        name = source
    predictor = Predictor.load(args.model, min_confidence=args.min_confidence, backend=args.backend)
    stream = StreamingPredictor(
        predictor, hop=args.hop, window=args.window, smooth=args.smooth, sample_rate=rate, name=name
    )
    jsonl = args.format == "jsonl"
    if source is None and not jsonl:
        print(f"serkit: listening ({rate} Hz); Ctrl-C to stop", file=sys.stderr)
    try:
        for block in blocks:
            for update in stream.feed(block):
                print(json.dumps(update.to_dict()) if jsonl else update_line(update), flush=True)
    except KeyboardInterrupt:
        pass  # the way to stop the microphone: the summary follows
    summary = stream.close()
    if dropped[0]:
        print(
            f"serkit: {dropped[0] / rate:.1f} s of microphone audio dropped: prediction fell behind real time",
            file=sys.stderr,
        )
    if jsonl:
        print(json.dumps(summary_message(summary)), flush=True)
    elif summary.error is None:
        n = len(summary.segments or ())
        print(
            f"summary   {summary.label:10s} {summary.confidence:5.2f}   ({summary.duration or 0:.1f} s, {n} speech "
            f"segment{'s' if n != 1 else ''})"
        )
        for seg in summary.segments or ():
            print(segment_line(seg))
    if summary.error is not None:
        print(f"serkit: {summary.error}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK
