"""`serkit serve`: the web page and REST API."""

from __future__ import annotations

import argparse

from serkit.cli.options import Formatter
from serkit.cli.output import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    from serkit.server.settings import ServerSettings, list_type, option_type, parse_hosts, parse_origins

    sv = sub.add_parser("serve", help="web page and REST API", formatter_class=Formatter,
                        description="Serve the web page (upload or record) and the REST API (POST /api/predict). "
                                    "The model is loaded, and predicts once, before the port is bound.")
    serve_defaults = ServerSettings()
    sv.add_argument("--model", default=None, metavar="BUNDLE", help="model bundle (default: the bundled model)")
    sv.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    sv.add_argument("--port", type=option_type("port"), default=8000, help="TCP port (1-65535)")
    sv.add_argument("--max-upload-mb", type=option_type("max_upload_mb"), default=serve_defaults.max_upload_mb,
                    metavar="MB", help="largest accepted upload")
    sv.add_argument("--max-concurrent", type=option_type("max_concurrent"), default=None, metavar="N",
                    help="predictions in progress at once, uploads included; more get 503 with Retry-After "
                         "(default: one per core)")
    sv.add_argument("--read-timeout", type=option_type("read_timeout"), default=serve_defaults.read_timeout,
                    metavar="S", help="408 and close when a request body stops arriving for S seconds")
    sv.add_argument("--upload-timeout", type=option_type("upload_timeout"), default=serve_defaults.upload_timeout,
                    metavar="S", help="408 and close when a whole request body takes longer than S seconds")
    sv.add_argument("--keep-alive-timeout", type=option_type("keep_alive_timeout"),
                    default=serve_defaults.keep_alive_timeout, metavar="S", help="close idle connections after S seconds")
    sv.add_argument("--allowed-hosts", type=list_type(parse_hosts), default=None, metavar="HOST[,HOST]",
                    help="Host names the server answers (DNS rebinding); *.example.org for sub-domains, * for any "
                         "(default: the --host address, localhost, 127.0.0.1, ::1)")
    sv.add_argument("--allowed-origins", type=list_type(parse_origins), default=None, metavar="ORIGIN[,ORIGIN]",
                    help="other sites (https://app.example.org) whose pages may call the API; by default only "
                         "the server's own page may POST")
    sv.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from serkit.server import ServerSettings, run

    limits = {} if args.max_concurrent is None else {"max_concurrent": args.max_concurrent}
    settings = ServerSettings(max_upload_mb=args.max_upload_mb, read_timeout=args.read_timeout,
                              upload_timeout=args.upload_timeout, keep_alive_timeout=args.keep_alive_timeout,
                              allowed_hosts=args.allowed_hosts, allowed_origins=args.allowed_origins or (), **limits)
    run(args.model, host=args.host, port=args.port, settings=settings)
    return EXIT_OK

