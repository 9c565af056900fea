"""`serkit serve`: the web page and REST API."""

from __future__ import annotations

import argparse

from serkit.cli.options import Formatter, add_predictor_options
from serkit.cli.output import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    from serkit.server.settings import ServerSettings, list_type, option_type, parse_hosts, parse_origins

    sv = sub.add_parser(
        "serve",
        help="web page and REST API",
        formatter_class=Formatter,
        description="Serve the web page (upload, record or live) and the REST API (POST /api/predict, "
        "WebSocket /api/stream). "
        "The model is loaded, and predicts once, before the port is bound.",
    )
    serve_defaults = ServerSettings()
    add_predictor_options(sv, backend=False)
    sv.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    sv.add_argument("--port", type=option_type("port"), default=8000, help="TCP port (1-65535)")
    sv.add_argument(
        "--max-upload-mb",
        type=option_type("max_upload_mb"),
        default=serve_defaults.max_upload_mb,
        metavar="MB",
        help="largest accepted upload",
    )
    sv.add_argument(
        "--max-concurrent",
        type=option_type("max_concurrent"),
        default=None,
        metavar="N",
        help="predictions in progress at once, uploads included; more get 503 with Retry-After (default: one per core)",
    )
    sv.add_argument(
        "--read-timeout",
        type=option_type("read_timeout"),
        default=serve_defaults.read_timeout,
        metavar="S",
        help="408 and close when a request body stops arriving for S seconds",
    )
    sv.add_argument(
        "--upload-timeout",
        type=option_type("upload_timeout"),
        default=serve_defaults.upload_timeout,
        metavar="S",
        help="408 and close when a whole request body takes longer than S seconds",
    )
    sv.add_argument(
        "--keep-alive-timeout",
        type=option_type("keep_alive_timeout"),
        default=serve_defaults.keep_alive_timeout,
        metavar="S",
        help="close idle connections after S seconds",
    )
    sv.add_argument(
        "--max-streams",
        type=option_type("max_streams"),
        default=serve_defaults.max_streams,
        metavar="N",
        help="live streams (WebSocket /api/stream) open at once; the next is refused with close code 1013",
    )
    sv.add_argument(
        "--max-stream-seconds",
        type=option_type("max_stream_seconds"),
        default=serve_defaults.max_stream_seconds,
        metavar="S",
        help="a live stream ends (with its summary) after S seconds of audio or of wall-clock time",
    )
    sv.add_argument(
        "--max-message-kb",
        type=option_type("max_message_kb"),
        default=serve_defaults.max_message_kb,
        metavar="KB",
        help="largest WebSocket message of a live stream",
    )
    sv.add_argument(
        "--max-stream-lead",
        type=option_type("max_stream_lead"),
        default=serve_defaults.max_stream_lead,
        metavar="S",
        help="a live client sending more than S seconds ahead of real time is refused (not queued)",
    )
    sv.add_argument(
        "--max-stream-messages",
        type=option_type("max_stream_messages"),
        default=serve_defaults.max_stream_messages,
        metavar="N",
        help="messages a second a live client may send on average, after a burst of 10 s worth; "
        "a flood is refused with close code 1008",
    )
    sv.add_argument(
        "--allowed-hosts",
        type=list_type(parse_hosts),
        default=None,
        metavar="HOST[,HOST]",
        help="Host names the server answers (DNS rebinding); *.example.org for sub-domains, * for any "
        "(default: the --host address, localhost, 127.0.0.1, ::1)",
    )
    sv.add_argument(
        "--allowed-origins",
        type=list_type(parse_origins),
        default=None,
        metavar="ORIGIN[,ORIGIN]",
        help="other sites (https://app.example.org) whose pages may call the API; by default only "
        "the server's own page may POST",
    )
    sv.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from serkit.server import ServerSettings, run

    limits = {} if args.max_concurrent is None else {"max_concurrent": args.max_concurrent}
    settings = ServerSettings(
        max_upload_mb=args.max_upload_mb,
        read_timeout=args.read_timeout,
        upload_timeout=args.upload_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        max_streams=args.max_streams,
        max_stream_seconds=args.max_stream_seconds,
        max_message_kb=args.max_message_kb,
        max_stream_lead=args.max_stream_lead,
        max_stream_messages=args.max_stream_messages,
        allowed_hosts=args.allowed_hosts,
        allowed_origins=args.allowed_origins or (),
        **limits,
    )
    run(args.model, host=args.host, port=args.port, settings=settings)
    return EXIT_OK
