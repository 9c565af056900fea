"""`serkit models`: the registered models and their options."""

from __future__ import annotations

import argparse

from serkit.cli.options import Formatter
from serkit.cli.output import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    mp = sub.add_parser(
        "models", help="list the models", formatter_class=Formatter, description="List the registered models."
    )
    mp.set_defaults(handler=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    from serkit.models import MODELS

    for spec in MODELS.values():
        options = ", ".join(f"{k}={v}" for k, v in spec.options.items())
        print(f"{spec.name:18s} {spec.family.name:8s} {spec.input:7s} {spec.description} [{options}]")
    return EXIT_OK
