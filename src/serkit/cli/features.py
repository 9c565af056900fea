"""Extract and cache features: `serkit features extract|list`."""

from __future__ import annotations

import argparse
import sys

from serkit.cli.options import Formatter, add_data_options, add_run_options, run_from
from serkit.cli.output import EXIT_OK, EXIT_PARTIAL, warn_skipped
from serkit.experiment import FEATURE_NAMES


def register(sub: argparse._SubParsersAction) -> None:
    feats = sub.add_parser(
        "features",
        help="extract and cache features",
        formatter_class=Formatter,
        description="Extract features once; later runs read the cache.",
    )
    fsub = feats.add_subparsers(
        dest="features_command", metavar="ACTION", required=True, help="what to do with features"
    )
    fx = fsub.add_parser(
        "extract",
        help="extract features for every file of the data",
        formatter_class=Formatter,
        description="Extract (and cache) features for every file of the data.",
    )
    add_data_options(fx)
    fx.add_argument(
        "--features",
        default="spectral_stats",
        metavar="NAME[OPTS][+NAME]",
        help=f"feature sets to extract, with options in brackets ({FEATURE_NAMES})",
    )
    add_run_options(fx, folds=False)
    ls = fsub.add_parser(
        "list", help="list the feature sets", formatter_class=Formatter, description="List the registered feature sets."
    )
    fx.set_defaults(handler=cmd_features_extract)
    ls.set_defaults(handler=cmd_features_list)


def cmd_features_extract(args: argparse.Namespace) -> int:
    import time

    from serkit.corpora import load_dataset
    from serkit.experiment import feature_extractors
    from serkit.features import extract_features

    extractors = feature_extractors(args.features)
    names = [ex.name for ex in extractors]
    run = run_from(args)
    ds = load_dataset(args.data, labels=args.labels)
    warn_skipped([(s.path, s.reason) for c in ds.corpora for s in c.skipped])
    how = run.extraction()
    cache = how["cache"]
    t0 = time.perf_counter()
    # keep=False: the features go to the cache only, so memory stays flat however large the data.
    res = extract_features(ds.table["path"].tolist(), extractors, **how, keep=False)
    secs = time.perf_counter() - t0
    print(
        f"{len(ds.table)} files, features {', '.join(names)}: {res.computed} computed, {res.from_cache} from cache, "
        f"{len(res.failed)} failed in {secs:.1f} s" + (f"; cache {cache.root}" if cache else "")
    )
    paths = ds.table["path"].tolist()
    for i, reason in sorted(res.failed.items())[:10]:
        print(f"  failed: {paths[i]}: {reason}", file=sys.stderr)
    return EXIT_PARTIAL if res.failed else EXIT_OK


def cmd_features_list(args: argparse.Namespace) -> int:
    from serkit.features import feature_names, get_extractor

    for n in feature_names():
        print(f"{n:18s} {get_extractor(n).kind.value}")
    return EXIT_OK
