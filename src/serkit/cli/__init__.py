"""Command line: every subcommand is a thin layer over the library, one module each.

`serkit.cli.<command>` declares its options (`register`) and runs them (`cmd_*`); shared options live in
`options`, printing in `output`. Errors that serkit raises on purpose become one line on stderr and exit
code 2; nothing the user gave is left half-written (reports and bundles are written atomically). A command
or option whose extra is not installed is one such line too (`EXTRA_NEEDED`, `serkit.extras`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence

from serkit.cli.options import Formatter
from serkit.cli.output import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_PARTIAL", "EXTRA_NEEDED", "build_parser", "main"]


# In the order `serkit --help` lists them.
SUBCOMMANDS = (
    "corpus",
    "features",
    "evaluate",
    "train",
    "adapt",
    "models",
    "predict",
    "listen",
    "serve",
    "export",
    "plot",
)

# What a command needs beyond the core install (`pip install serkit`): its pip extra (see serkit.extras).
EXTRA_NEEDED = {
    "features extract": "train",
    "evaluate": "train",
    "train": "train",
    "export": "train",
    "plot": "train",
    "serve": "serve",
}
# Options that need an extra whatever the command: (option's dest, value or None for any value) -> extra.
OPTION_EXTRA_NEEDED = {("scheduler", None): "dask", ("backend", "native"): "train"}


def command_words(args: argparse.Namespace) -> str:
    """`features extract` for `serkit features extract ...`: the command and its action, if it has one."""
    action = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {action}" if action else args.command


def check_extras(args: argparse.Namespace) -> None:
    """Raise MissingExtraError when the command or one of its options needs an extra that is not installed."""
    from serkit.extras import require

    words = command_words(args)
    extra = EXTRA_NEEDED.get(words) or EXTRA_NEEDED.get(args.command)
    if extra:
        require(extra, f"serkit {words}")
    for (dest, value), extra in OPTION_EXTRA_NEEDED.items():
        given = getattr(args, dest, None)
        if given is not None and (value is None or given == value):
            option = "--" + dest.replace("_", "-") + ("" if value is None else f" {value}")
            require(extra, f"serkit {words} {option}")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from serkit.version import __version__

    parser = argparse.ArgumentParser(
        prog="serkit",
        formatter_class=Formatter,
        description="Speech emotion recognition: corpora, features, speaker-independent evaluation, prediction.",
    )
    parser.add_argument("--version", action="version", version=f"serkit {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, help="what to do; `serkit COMMAND --help` for its options"
    )
    for name in SUBCOMMANDS:
        importlib.import_module(f"serkit.cli.{name}").register(sub)
    return parser


def flag_names(parser: argparse.ArgumentParser, command: str | None = None) -> dict[str, str]:
    """Python parameter name -> CLI flag, read from the parser itself: the command's own options first (a nested
    one such as `corpus scan` included), then any other command's (a message may point to an option of another
    command, e.g. train's --normalize)."""

    def tree(p: argparse.ArgumentParser, words: tuple[str, ...]) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield " ".join((*words, name)), sub
                    yield from tree(sub, (*words, name))

    commands = dict(tree(parser, ()))
    order = [commands[command]] if command in commands else []
    order += [p for name, p in commands.items() if name != command]
    out: dict[str, str] = {}
    for p in order:
        for action in p._actions:
            long = [o for o in action.option_strings if o.startswith("--")]
            if long and action.dest not in out and action.dest != "help":
                out[action.dest] = long[0]
    return out


# Python parameters whose CLI option has another name: `Predictor.load(path)` is `--model`.
PYTHON_TO_CLI = {"path": "model"}


def as_flags(exc: Exception, parser: argparse.ArgumentParser, command: str | None = None) -> str:
    """A library error's message with its parameters (`SerkitError.params`, spelled as in Python) respelled as
    this CLI's flags: `normalize='corpus'` -> `--normalize corpus`, `min_confidence` -> `--min-confidence`."""
    import re

    text = str(exc)
    params = getattr(exc, "params", ())
    if not params:
        return text
    flags = flag_names(parser, command)
    for name in params:
        flag = flags.get(PYTHON_TO_CLI.get(name, name))
        if flag is None:
            continue
        # A whole word, never part of a path or a file name: not after / . - or a letter, not before / - or a
        # letter, nor before a dot the name goes on after (`output.jsonl` stays; a closing `output.` is respelled).
        pattern = re.compile(
            rf"(?<![\w./\\-]){re.escape(name)}(?:=('[^']*'|\"[^\"]*\"|[^\s,;:)]+))?(?![\w/\\-]|\.[^\s])"
        )

        def respell(m: re.Match[str], flag: str = flag) -> str:
            value = m.group(1)
            return flag if value is None else f"{flag} {value.strip(chr(39) + chr(34))}"

        text = pattern.sub(respell, text)
    return text


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so the run unwinds as it does on Ctrl-C (a BaseException, so no
    `except Exception` on the way swallows it)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    from serkit.errors import SerkitError

    parser = build_parser()
    args = parser.parse_args(argv)
    # `serve` leaves SIGTERM to uvicorn (a graceful shutdown); only the main thread may set a handler.
    catch = threading.current_thread() is threading.main_thread() and args.command != "serve"
    previous = signal.signal(signal.SIGTERM, _terminate) if catch else signal.SIG_DFL
    if hasattr(sys.stdout, "reconfigure"):  # a file name that is not UTF-8 is printed as its own bytes
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        check_extras(args)
        return args.handler(args)
    except Terminated:
        _stop_workers()
        print("serkit: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except SerkitError as exc:
        print(f"serkit: error: {as_flags(exc, parser, command_words(args))}", file=sys.stderr)
        return EXIT_ERROR
    except ImportError as exc:  # a module of an extra that is not installed, found only when used
        from serkit.extras import missing_extra

        missing = missing_extra(exc, f"serkit {command_words(args)}")
        if missing is None:
            raise
        print(f"serkit: error: {missing}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # the reader went away (`serkit listen | head`): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return EXIT_OK
    except OSError as exc:  # a folder given where a file is expected, a full disk, no permission
        from serkit.io import describe_os_error

        print(f"serkit: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _stop_workers()
        print("serkit: interrupted", file=sys.stderr)
        return 130
    finally:
        if catch:  # None: a handler set outside Python, which cannot be put back; the default then
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _stop_workers() -> None:
    """The local pool's workers die with the run, not after their idle time-out."""
    from serkit.parallel import stop_local_workers

    stop_local_workers()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
