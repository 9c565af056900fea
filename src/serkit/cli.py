"""Command line: every subcommand is a thin layer over the library.

Errors that serkit raises on purpose become one line on stderr and exit code 2;
nothing the user gave is left half-written (reports and bundles are written atomically).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2
# Spelled out rather than read from the registry, so `serkit --help` imports nothing; a test keeps it in step.
_FEATURE_SETS = "spectral_stats, mfcc_matrix, logmel, egemaps, compare, whisper_encoder"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows a default only where there is one worth showing (not None, not a False flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default is None or action.default is False \
                or action.default == argparse.SUPPRESS or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def _add_data_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("--data", action="append", required=required, metavar="[NAME=]PATH",
                   help="corpus folder or CSV manifest (path,label[,speaker]); repeat to merge corpora; "
                        "NAME forces the reader (ravdess, crema_d, tess, savee, emodb, emovo, urdu, folders, manifest)")
    p.add_argument("--labels", default="union", metavar="POLICY",
                   help="label set when merging corpora: union, intersection, or LABEL,LABEL,...")


def _add_cache_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="feature cache folder (default: $SERKIT_CACHE or ~/.cache/serkit/features)")
    p.add_argument("--no-cache", action="store_true", help="compute features without reading or writing the cache")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="feature-extraction processes (default: one per core, each single-threaded)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", default="spectral_stats", metavar="NAME[+NAME]",
                   help=f"feature sets, combined with + ({_FEATURE_SETS})")
    p.add_argument("--protocol", default="speaker", choices=["speaker", "random", "cross"],
                   help="speaker: speaker-independent CV (grouped 5-fold, or leave-one-speaker-out for <= 10 speakers); "
                        "random: stratified random 5-fold, speaker-dependent (optimistic); "
                        "cross: train on --data, test on --test-data")
    p.add_argument("--test-data", action="append", default=None, metavar="[NAME=]PATH",
                   help="test corpus for --protocol cross (repeatable)")
    p.add_argument("--folds", type=int, default=5, metavar="K", help="folds for grouped and random CV")
    p.add_argument("--seed", type=int, default=0, help="seed for folds, models and augmentation")
    p.add_argument("--augment", default=None, metavar="LIST",
                   help="training-fold augmentation: noise, stretch, pitch, specaugment (comma-separated)")
    p.add_argument("--augment-copies", type=int, default=1, metavar="N",
                   help="augmented copies per training file (with --augment)")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="maximum epochs for torch models (default 60, with early stopping)")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="folds trained in parallel (single-threaded each)")
    p.add_argument("--speaker-norm", action="store_true",
                   help="z-score features per speaker with that speaker's own unlabelled files (transductive: "
                        "prediction then needs several recordings of each speaker)")


def build_parser() -> argparse.ArgumentParser:
    from serkit import __version__

    parser = argparse.ArgumentParser(
        prog="serkit", formatter_class=_Formatter,
        description="Speech emotion recognition: corpora, features, speaker-independent evaluation, prediction.",
    )
    parser.add_argument("--version", action="version", version=f"serkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                help="what to do; `serkit COMMAND --help` for its options")

    corpus = sub.add_parser("corpus", help="inspect corpora", formatter_class=_Formatter,
                            description="Inspect emotional-speech corpora.")
    csub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True, help="what to do with a corpus")
    scan = csub.add_parser("scan", help="count files, speakers, hours, emotions; list skipped files",
                           formatter_class=_Formatter, description="Scan one corpus folder (or CSV manifest).")
    scan.add_argument("path", metavar="PATH", help="corpus folder or CSV manifest")
    scan.add_argument("--corpus", default=None, metavar="NAME",
                      help="reader to use (default: detected from file names)")
    scan.add_argument("--format", default="table", choices=["table", "json", "csv"],
                      help="table: summary for people; json: one summary object; csv: one row per file")
    scan.add_argument("--output", default=None, metavar="FILE", help="write to FILE instead of stdout")

    feats = sub.add_parser("features", help="extract and cache features", formatter_class=_Formatter,
                           description="Extract features once; later runs read the cache.")
    fsub = feats.add_subparsers(dest="features_command", metavar="ACTION", required=True, help="what to do with features")
    fx = fsub.add_parser("extract", help="extract features for every file of the data", formatter_class=_Formatter,
                         description="Extract (and cache) features for every file of the data.")
    _add_data_options(fx)
    fx.add_argument("--features", default="spectral_stats", metavar="NAME[,NAME]",
                    help=f"feature sets to extract ({_FEATURE_SETS})")
    _add_cache_options(fx)
    fsub.add_parser("list", help="list the feature sets", formatter_class=_Formatter,
                    description="List the registered feature sets.")

    ev = sub.add_parser("evaluate", help="cross-validate models and write reports", formatter_class=_Formatter,
                        description="Cross-validate one or more models (speaker-independent by default) and write "
                                    "metrics.json, classification_report.csv, confusion_matrix.png, predictions.csv "
                                    "and, for several models, model_selection.csv.")
    _add_data_options(ev)
    ev.add_argument("--model", default="logreg", metavar="NAME[,NAME]", help="models to compare (see `serkit models`)")
    _add_training_options(ev)
    ev.add_argument("--output", default=None, metavar="DIR", help="report folder (default: print only)")
    ev.add_argument("--format", default="table", choices=["table", "json"], help="how to print the summary")
    _add_cache_options(ev)

    tr = sub.add_parser("train", help="train a model on all the data and write a bundle", formatter_class=_Formatter,
                        description="Evaluate (unless --no-evaluate), then train on all the data and write a model "
                                    "bundle: config.json, labels.json, weights, metrics.json, card.md.")
    _add_data_options(tr)
    tr.add_argument("--model", default="logreg", metavar="NAME", help="model to train (see `serkit models`)")
    _add_training_options(tr)
    tr.add_argument("--output", required=True, metavar="BUNDLE", help="bundle folder to write")
    tr.add_argument("--no-evaluate", action="store_true", help="skip the cross-validation behind the card's scores")
    _add_cache_options(tr)

    sub.add_parser("models", help="list the models", formatter_class=_Formatter, description="List the registered models.")

    pr = sub.add_parser("predict", help="predict the emotion of files, folders or globs", formatter_class=_Formatter,
                        description="Predict emotions. Audio longer than 10 s (or any, with --segment) is split on "
                                    "speech and gets a per-segment timeline. Exit code 1 when some files failed.")
    pr.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders (recursive) or globs")
    pr.add_argument("--model", default=None, metavar="BUNDLE", help="model bundle (default: the bundled model)")
    pr.add_argument("--format", default="table", choices=["table", "json", "csv"], help="output format")
    pr.add_argument("--output", default=None, metavar="FILE", help="write to FILE instead of stdout")
    pr.add_argument("--top", type=int, default=3, metavar="K", help="classes shown per file in the table")
    pr.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                    help="below this top probability the label is 'uncertain'")
    pr.add_argument("--segment", action="store_true", help="segment every file on speech, however short")
    pr.add_argument("--backend", default="native", choices=["native", "onnx"],
                    help="classifier runtime (onnx needs `serkit export BUNDLE --format onnx` first)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")

    sv = sub.add_parser("serve", help="web page and REST API", formatter_class=_Formatter,
                        description="Serve the web page (upload or record) and the REST API (POST /api/predict).")
    sv.add_argument("--model", default=None, metavar="BUNDLE", help="model bundle (default: the bundled model)")
    sv.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    sv.add_argument("--port", type=int, default=8000, help="TCP port")
    sv.add_argument("--max-upload-mb", type=float, default=25.0, metavar="MB", help="largest accepted upload")

    ex = sub.add_parser("export", help="export a bundle's classifier to ONNX", formatter_class=_Formatter,
                        description="Export the classifier of a bundle (feature extraction stays native) to one "
                                    "self-contained model.onnx inside the bundle, checked against the native model.")
    ex.add_argument("bundle", metavar="BUNDLE", help="model bundle folder")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    ex.add_argument("--output", default=None, metavar="FILE", help="where to write (default: BUNDLE/model.onnx)")

    pl = sub.add_parser("plot", help="plots: class distribution, audio, confusion matrix", formatter_class=_Formatter,
                        description="Draw the pictures SER projects show.")
    plsub = pl.add_subparsers(dest="plot_command", metavar="KIND", required=True, help="which picture to draw")
    pd_ = plsub.add_parser("distribution", help="class distribution of a corpus", formatter_class=_Formatter,
                           description="Bar chart of the emotions in a corpus.")
    pd_.add_argument("path", metavar="PATH", help="corpus folder or CSV manifest")
    pd_.add_argument("--corpus", default=None, metavar="NAME", help="reader (default: detected)")
    pd_.add_argument("--output", required=True, metavar="PNG", help="image to write")
    pa = plsub.add_parser("audio", help="waveform, spectrogram and mel spectrogram of a file",
                          formatter_class=_Formatter, description="Waveform, spectrogram and mel spectrogram.")
    pa.add_argument("path", metavar="FILE", help="audio file")
    pa.add_argument("--output", required=True, metavar="PNG", help="image to write")
    pc = plsub.add_parser("confusion", help="confusion matrix of an evaluation", formatter_class=_Formatter,
                          description="Confusion matrix from an evaluation's predictions.csv.")
    pc.add_argument("path", metavar="DIR_OR_CSV", help="evaluation folder or its predictions.csv")
    pc.add_argument("--output", required=True, metavar="PNG", help="image to write")
    return parser


# -- commands ---------------------------------------------------------------------------
def _emit(text: str, output: str | None) -> None:
    if output:
        if Path(output).is_dir():
            from serkit.errors import SerkitError

            raise SerkitError(f"{output}: is a folder; --output takes a file name")
        from serkit.io import atomic_write_bytes

        atomic_write_bytes(Path(output), text.encode())
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_corpus_scan(args: argparse.Namespace) -> int:
    from serkit.corpora import scan

    corpus = scan(args.path, corpus=args.corpus)
    s = corpus.summary()
    if args.format == "json":
        _emit(json.dumps(s, indent=2), args.output)
    elif args.format == "csv":
        _emit(corpus.table.to_csv(index=False), args.output)
    else:
        lines = [
            f"corpus    {s['corpus']}  ({s['root']})",
            f"files     {s['files']}",
            f"speakers  {s['speakers']}",
            f"hours     {s['hours']:.3f}",
            "emotions  " + ", ".join(f"{k} {v}" for k, v in s["emotions"].items()),
            "genders   " + ", ".join(f"{k} {v}" for k, v in s["per_gender"].items()),
            "per speaker " + ", ".join(f"{k} {v}" for k, v in s["per_speaker"].items()),
            f"skipped   {s['skipped']}",
        ]
        lines += [f"  - {x['path']}: {x['reason']}" for x in s["skipped_examples"]]
        if s["skipped"] > len(s["skipped_examples"]):
            lines.append(f"  ... and {s['skipped'] - len(s['skipped_examples'])} more (use --format json)")
        _emit("\n".join(lines), args.output)
    return EXIT_OK


def cmd_features_extract(args: argparse.Namespace) -> int:
    import time

    from serkit.corpora import load_dataset
    from serkit.features import FeatureCache, extract_features, parse_feature_names

    names = parse_feature_names(args.features)
    ds = load_dataset(args.data, labels=args.labels)
    cache = None if args.no_cache else FeatureCache(args.cache)
    t0 = time.perf_counter()
    res = extract_features(ds.table["path"].tolist(), names, cache=cache, workers=args.workers, progress=not args.quiet)
    secs = time.perf_counter() - t0
    print(f"{len(ds.table)} files, features {', '.join(names)}: {res.computed} computed, {res.from_cache} from cache, "
          f"{len(res.failed)} failed in {secs:.1f} s" + (f"; cache {cache.root}" if cache else ""))
    paths = ds.table["path"].tolist()
    for i, reason in sorted(res.failed.items())[:10]:
        print(f"  failed: {paths[i]}: {reason}", file=sys.stderr)
    return EXIT_PARTIAL if res.failed else EXIT_OK


def cmd_features_list(args: argparse.Namespace) -> int:
    from serkit.features import feature_names, get_extractor

    for n in feature_names():
        print(f"{n:18s} {get_extractor(n).kind.value}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from serkit.models import MODELS

    for spec in MODELS.values():
        print(f"{spec.name:18s} {spec.family:8s} {spec.input:7s} {spec.description}")
    return EXIT_OK


def _common_train_kwargs(args: argparse.Namespace) -> dict:
    return dict(
        features=args.features, protocol=args.protocol, test_data=args.test_data, labels=args.labels,
        n_folds=args.folds, seed=args.seed, augment=args.augment, augment_copies=args.augment_copies,
        epochs=args.epochs, speaker_norm=args.speaker_norm, cache_dir=args.cache, no_cache=args.no_cache, workers=args.workers, jobs=args.jobs,
        progress=not args.quiet,
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    from serkit.evaluation import evaluate

    r = evaluate(args.data, models=args.model, output=args.output, **_common_train_kwargs(args))
    rows = []
    for name, mr in r.results.items():
        m = mr.metrics
        rows.append({"model": name, "ua": m["ua"]["mean"], "ua_std": m["ua"]["std"], "wa": m["wa"]["mean"],
                     "wa_std": m["wa"]["std"], "macro_f1": m["macro_f1"]["mean"], "macro_f1_std": m["macro_f1"]["std"],
                     "seconds_per_fold": m["seconds_per_fold"]})
    if args.format == "json":
        print(json.dumps({"protocol": r.config.protocol, "protocol_label": r.protocol_label, "scheme": r.scheme,
                          "features": list(r.config.features), "n_files": r.n_files, "results": rows,
                          "best": r.best}, indent=2))
    else:
        print(f"{r.protocol_label}: {r.scheme}; {r.n_files} files; features {'+'.join(r.config.features)}")
        print(f"{'model':18s} {'UA':>15s} {'WA':>15s} {'macro-F1':>15s} {'s/fold':>7s}")
        for row in sorted(rows, key=lambda x: -x["ua"]):
            mark = " *" if row["model"] == r.best and len(rows) > 1 else ""
            print(f"{row['model']:18s} {row['ua']:7.1%} ± {row['ua_std']:4.1%} {row['wa']:7.1%} ± {row['wa_std']:4.1%} "
                  f"{row['macro_f1']:7.1%} ± {row['macro_f1_std']:4.1%} {row['seconds_per_fold']:7.1f}{mark}")
        if args.output:
            print(f"reports written to {args.output}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from serkit.training import train

    out = train(args.data, model=args.model, output=args.output, evaluate=not args.no_evaluate,
                **_common_train_kwargs(args))
    m = json.loads((out / "metrics.json").read_text())
    score = f"; {m['protocol_label']} UA {m['ua']:.1%} ± {m['ua_std']:.1%}, WA {m['wa']:.1%}" if "ua" in m else ""
    print(f"model bundle written to {out}{score}")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from serkit.inference import Predictor, expand_paths
    if not 0.0 <= args.min_confidence <= 1.0:
        from serkit.errors import ConfigError

        raise ConfigError(f"--min-confidence must be between 0 and 1, got {args.min_confidence}")
    predictor = Predictor.load(args.model, min_confidence=args.min_confidence, backend=args.backend)
    files = expand_paths(args.paths)
    if not files:
        from serkit.errors import SerkitError

        raise SerkitError(f"no audio files found in {' '.join(args.paths)}")
    results = predictor.predict_files(files, progress=not args.quiet and len(files) > 1, segment=args.segment or None)
    if args.format == "json":
        text = json.dumps([r.to_dict() for r in results], indent=2)
    elif args.format == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["path", "label", "confidence", *[f"p_{c}" for c in predictor.labels], "segments", "error"])
        for r in results:
            probs = r.probabilities or {}
            w.writerow([r.path, r.label or "", "" if r.confidence is None else f"{r.confidence:.4f}",
                        *[f"{probs[c]:.4f}" if c in probs else "" for c in predictor.labels],
                        len(r.segments) if r.segments else "", r.error or ""])
        text = buf.getvalue()
    else:
        lines = []
        width = max(len(r.path or "") for r in results)
        for r in results:
            if r.error:
                lines.append(f"{r.path:{width}s}  ERROR {r.error}")
                continue
            top = "  ".join(f"{c} {p:.2f}" for c, p in r.top(max(1, args.top)))
            lines.append(f"{r.path:{width}s}  {r.label:10s} {r.confidence:5.2f}   [{top}]")
            for s in r.segments or ():
                lines.append(f"{'':{width}s}    {s.start:8.2f}-{s.end:8.2f} s  {s.label:10s} {s.confidence:5.2f}")
        text = "\n".join(lines)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"serkit: {r.error}", file=sys.stderr)
    if failed and len(failed) == len(results):
        # Nothing could be predicted: an error, not a partial result, and no output (an existing
        # --output file is left as it was rather than replaced by a list of errors).
        return EXIT_ERROR
    _emit(text, args.output)
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import math

    from serkit.errors import ConfigError
    from serkit.server import run

    if not (math.isfinite(args.max_upload_mb) and args.max_upload_mb > 0):
        raise ConfigError(f"--max-upload-mb must be a positive number, got {args.max_upload_mb}")

    run(args.model, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from serkit.export import export_onnx

    out, diff = export_onnx(args.bundle, output=args.output)
    print(f"ONNX model written to {out}; max |p_onnx - p_native| on a check batch: {diff:.2e}")
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from serkit import plots

    if args.plot_command == "distribution":
        from serkit.corpora import scan

        s = scan(args.path, corpus=args.corpus).summary()
        plots.plot_distribution(s["emotions"], Path(args.output), title=f"{s['corpus']}: {s['files']} files")
    elif args.plot_command == "audio":
        from serkit import audio

        sig = audio.load(args.path)
        plots.plot_audio(sig, audio.SAMPLE_RATE, Path(args.output), title=Path(args.path).name)
    else:
        import pandas as pd

        from serkit.errors import SerkitError
        from serkit.labels import ordered
        from serkit.metrics import confusion

        p = Path(args.path)
        f = p / "predictions.csv" if p.is_dir() else p
        if not f.is_file():
            raise SerkitError(f"{f}: not found (give an evaluation folder or its predictions.csv)")
        try:
            df = pd.read_csv(f)
            labels = ordered(set(df["true"]) | set(df["predicted"]))
        except (ValueError, KeyError) as exc:
            raise SerkitError(f"{f}: not an evaluation predictions.csv ({exc})") from None
        plots.plot_confusion(confusion(df["true"], df["predicted"], labels), labels, Path(args.output), title=str(f))
    print(f"wrote {args.output}")
    return EXIT_OK


COMMANDS = {
    ("corpus", "scan"): cmd_corpus_scan,
    ("features", "extract"): cmd_features_extract,
    ("features", "list"): cmd_features_list,
    ("models", None): cmd_models,
    ("evaluate", None): cmd_evaluate,
    ("train", None): cmd_train,
    ("predict", None): cmd_predict,
    ("serve", None): cmd_serve,
    ("export", None): cmd_export,
    ("plot", "distribution"): cmd_plot,
    ("plot", "audio"): cmd_plot,
    ("plot", "confusion"): cmd_plot,
}


def main(argv: Sequence[str] | None = None) -> int:
    from serkit.errors import SerkitError

    parser = build_parser()
    args = parser.parse_args(argv)
    action = getattr(args, f"{args.command}_command", None)
    handler = COMMANDS[(args.command, action)]
    try:
        return handler(args)
    except SerkitError as exc:
        print(f"serkit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a folder given where a file is expected, a full disk, no permission
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"serkit: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("serkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
