"""Options shared by several subcommands: the experiment's (generated from ExperimentConfig's fields), the run's,
and the help formatter."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

# Spelled out rather than read from the registry, so `serkit --help` imports nothing; a test keeps it in step.
FEATURE_SETS = "spectral_stats, mfcc_matrix, logmel, egemaps, compare, whisper_encoder"


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default only where there is one worth showing (not None, not a False flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default is None or action.default is False \
                or action.default == argparse.SUPPRESS or not action.option_strings:
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


def add_cache_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="feature cache folder (default: $SERKIT_CACHE or ~/.cache/serkit/features)")
    p.add_argument("--no-cache", action="store_true", help="compute features without reading or writing the cache")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="feature-extraction processes (default: one per core, each single-threaded)")
    add_scheduler_option(p, what="feature extraction")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_scheduler_option(p: argparse.ArgumentParser, *, what: str) -> None:
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local[:N]",
                   help=f"run the {what} on a Dask cluster: a running scheduler (tcp://HOST:8786; its workers read "
                        "the files by path, so they need the same filesystem) or local[:N] (a local cluster of N "
                        "single-threaded worker processes; default N: one per core)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    add_cache_options(p)
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="folds trained in parallel (single-threaded each)")


def run_from(args: argparse.Namespace):
    from serkit.experiment import RunOptions

    return RunOptions(cache_dir=args.cache, no_cache=args.no_cache, workers=args.workers,
                      jobs=getattr(args, "jobs", 2), progress=not args.quiet, scheduler=args.scheduler)

