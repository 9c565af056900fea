"""`serkit serve`: the web page and REST API."""

from __future__ import annotations

import argparse
import dataclasses

from serkit.cli.options import Formatter, add_predictor_options
from serkit.cli.output import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `serkit serve` to the CLI: one option per `ServerSettings` field, declared from its metadata.

    Args:
        sub: The CLI's subcommands.
    """
    from serkit.server.settings import BOUNDS, ServerSettings, list_type, option_type

    sv = sub.add_parser(
        "serve",
        help="web page and REST API",
        formatter_class=Formatter,
        description="Serve the web page (upload, record or live) and the REST API (POST /api/predict, "
        "WebSocket /api/stream). "
        "The model is loaded, and predicts once, before the port is bound.",
    )
    add_predictor_options(sv, backend=False)
    sv.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    sv.add_argument("--port", type=option_type("port"), default=8000, help="TCP port (1-65535)")
    for f in dataclasses.fields(ServerSettings):
        meta = f.metadata
        bounded = f.name in BOUNDS
        sv.add_argument(
            "--" + f.name.replace("_", "-"),
            type=option_type(f.name) if bounded else list_type(meta["parse"]),
            # No default where the field has none to show (one per core, the --host address, no origins).
            default=f.default if bounded and f.default is not dataclasses.MISSING else None,
            metavar=meta["metavar"],
            help=meta["help"],
        )
    sv.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the model with the settings given; an option not given keeps the field's default.

    Args:
        args: The parsed options of `serkit serve`.

    Returns:
        The exit status once the server has stopped.
    """
    from serkit.server import ServerSettings, run

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(ServerSettings)}
    settings = ServerSettings(**{name: value for name, value in given.items() if value is not None})
    run(args.model, host=args.host, port=args.port, settings=settings)
    return EXIT_OK
