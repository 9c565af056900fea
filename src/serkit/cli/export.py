"""`serkit export`: ONNX files for torch-free prediction."""

from __future__ import annotations

import argparse

from serkit.cli.options import Formatter
from serkit.cli.output import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser(
        "export",
        help="export a bundle's classifier to ONNX",
        formatter_class=Formatter,
        description="Export the classifier of a bundle to one self-contained model.onnx inside the "
        "bundle (and the Whisper encoder, for whisper_encoder features), checked against "
        "the native model and recorded in onnx.json.",
    )
    ex.add_argument("bundle", metavar="BUNDLE", help="model bundle folder")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    ex.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from serkit.export import export_onnx

    out, diff = export_onnx(args.bundle)
    print(f"ONNX model written to {out}; max |p_onnx - p_native| on a check batch: {diff:.2e}")
    return EXIT_OK
