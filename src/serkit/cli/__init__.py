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


def main(argv: Sequence[str] | None = None) -> int:
    from serkit.errors import SerkitError

    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # a file name that is not UTF-8 is printed as its own bytes
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        return args.handler(args)
    except SerkitError as exc:
        print(f"serkit: error: {exc}", file=sys.stderr)
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
        print("serkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
