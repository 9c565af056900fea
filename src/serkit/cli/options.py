"""Options shared by several subcommands: the experiment's (generated from ExperimentConfig's fields), the run's,
those that load a predictor, and the help formatter."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def with_registered_names(text: str) -> str:
    """An option's help with the registry's names where it says `CORPUS_NAMES` (--data's corpus readers) or
    `FEATURE_NAMES` (--features' feature sets), both placeholders of serkit.experiment.

    Args:
        text: The help as the option declares it.

    Returns:
        The help with the names filled in; `text` itself when it names no placeholder (serkit.corpora and
        serkit.features are imported only when it does).
    """
    from serkit.experiment import CORPUS_NAMES, FEATURE_NAMES

    if CORPUS_NAMES in text:
        from serkit.corpora import corpus_names

        text = text.replace(CORPUS_NAMES, ", ".join(corpus_names()))
    if FEATURE_NAMES in text:
        from serkit.features import feature_names

        text = text.replace(FEATURE_NAMES, ", ".join(feature_names()))
    return text


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default only where there is one worth showing (not None, not a False flag), and --data's corpus
    names and --features' feature set names as registered when the help is shown (`with_registered_names`)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = with_registered_names(action.help or "")
        if (
            "%(default)" in text
            or action.default is None
            or action.default is False
            or action.nargs == 0
            or action.default == argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return text + " (default: %(default)s)"


def add_data_options(p: argparse.ArgumentParser) -> None:
    """--data and --labels alone (for commands that read corpora without training), from the config's fields."""
    add_experiment_options(p, command="data", only=("data", "labels"))


def add_experiment_options(p: argparse.ArgumentParser, *, command: str, only: Sequence[str] | None = None) -> None:
    """One option per ExperimentConfig field: the config declares, documents and validates each once."""
    import dataclasses

    from serkit.experiment import ExperimentConfig, iter_cli_fields

    defaults = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}
    for f in iter_cli_fields(command=command):
        if only is not None and f.name not in only:
            continue
        meta = f.metadata
        kwargs: dict = {"dest": f.name, "help": meta["help"]}
        shown_by_us = isinstance(p.formatter_class, type) and issubclass(p.formatter_class, Formatter)
        if not shown_by_us:  # another formatter would show the placeholder: fill the names in now
            kwargs["help"] = with_registered_names(meta["help"])
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        if meta["choices"]:
            kwargs["choices"] = list(meta["choices"])
        default = defaults[f.name]
        if f.name == "models" and command == "train":
            kwargs["help"] = "model to train, with options in brackets: logreg[C=0.001] (see `serkit models`)"
            kwargs["metavar"] = "NAME[OPTS]"
        if meta["repeat"]:
            kwargs["action"] = "append"
            kwargs["required"] = f.name == "data"
            kwargs["default"] = None
        elif f.type in ("int", "int | None") or isinstance(default, int) and not isinstance(default, bool):
            kwargs["type"] = int
            kwargs["default"] = None if default is dataclasses.MISSING else default
        else:
            shown = default
            if isinstance(default, tuple):
                shown = "+".join(map(str, default)) if default else None
            elif hasattr(default, "value"):
                shown = default.value
            kwargs["default"] = shown
        p.add_argument(meta["cli"], **kwargs)


def experiment_from(args: argparse.Namespace):
    """The ExperimentConfig of a command's parsed options (validated on construction)."""
    import dataclasses

    from serkit.experiment import ExperimentConfig

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(ExperimentConfig) if hasattr(args, f.name)}
    values = {k: v for k, v in values.items() if v is not None}
    return ExperimentConfig(**values)


def add_run_options(p: argparse.ArgumentParser, *, folds: bool = True, only: Sequence[str] | None = None) -> None:
    """One option per RunOptions field (how a run is carried out), declared and documented there once;
    `folds=False` leaves out what only matters to cross-validation (--jobs). A field whose help differs by
    command (--scheduler's: what runs on the cluster) gives this parser's command its own (`per_command`)."""
    import dataclasses

    from serkit.experiment import RunOptions

    command = p.prog.partition(" ")[2]  # `serkit features extract` -> `features extract`
    for f in dataclasses.fields(RunOptions):
        meta = f.metadata
        if not meta.get("cli") or (only is not None and f.name not in only) or (meta["folds_only"] and not folds):
            continue
        text = meta["per_command"].get(command, meta["help"])
        if f.type == "bool":  # flags: --no-cache sets True, --quiet turns progress off
            p.add_argument(meta["cli"], dest=f.name, action="store_false" if f.default else "store_true", help=text)
        else:
            kind = int if f.type in ("int", "int | None") else None
            extra: dict[str, Any] = {"type": kind} if kind else {}
            p.add_argument(meta["cli"], dest=f.name, default=f.default, metavar=meta["metavar"], help=text, **extra)


def run_from(args: argparse.Namespace):
    """The RunOptions of a command's parsed options (validated on construction)."""
    import dataclasses

    from serkit.experiment import RunOptions

    return RunOptions(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(RunOptions) if hasattr(args, f.name)}
    )


def add_predictor_options(p: argparse.ArgumentParser, *, backend: bool = True) -> None:
    """The options that load a predictor, declared once for every command that has them: --model BUNDLE and,
    where the command can run either runtime, --backend (choices: the `Backend` enum's values)."""
    p.add_argument("--model", default=None, metavar="BUNDLE", help="model bundle (default: the bundled model)")
    if backend:
        from serkit.backends import Backend

        p.add_argument(
            "--backend",
            default=Backend.AUTO.value,
            choices=[b.value for b in Backend],
            help="runtime: onnx runs the exported files without torch (needs `serkit export BUNDLE`); "
            "auto uses them when the bundle has them",
        )
