"""Command line: every subcommand is a thin layer over the library, one module each.

`serkit.cli.<command>` declares its options (`register`) and runs them (`cmd_*`); shared options live in
`options`, printing in `output`. Errors that serkit raises on purpose become one line on stderr and exit
code 2; nothing the user gave is left half-written (reports and bundles are written atomically).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from serkit.cli.options import FEATURE_SETS, Formatter
from serkit.cli.output import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_PARTIAL", "FEATURE_SETS", "build_parser", "main"]

# In the order `serkit --help` lists them.
SUBCOMMANDS = ("corpus", "features", "evaluate", "train", "adapt", "models", "predict", "listen", "serve", "export",
               "plot")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from serkit.version import __version__

    parser = argparse.ArgumentParser(
        prog="serkit", formatter_class=Formatter,
        description="Speech emotion recognition: corpora, features, speaker-independent evaluation, prediction.",
    )
    parser.add_argument("--version", action="version", version=f"serkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                help="what to do; `serkit COMMAND --help` for its options")
    for name in SUBCOMMANDS:
        importlib.import_module(f"serkit.cli.{name}").register(sub)
    return parser


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
    try:
        return args.handler(args)
    except Terminated:
        _stop_workers()
        print("serkit: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except SerkitError as exc:
        print(f"serkit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # the reader went away (`serkit listen | head`): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return EXIT_OK
    except OSError as exc:  # a folder given where a file is expected, a full disk, no permission
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"serkit: error: {where}{exc.strerror or exc}", file=sys.stderr)
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
