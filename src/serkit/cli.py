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


def _add_data_options(p: argparse.ArgumentParser) -> None:
    """--data and --labels alone (for commands that read corpora without training), from the config's fields."""
    _add_experiment_options(p, command="data", only=("data", "labels"))


def _add_experiment_options(p: argparse.ArgumentParser, *, command: str, only: Sequence[str] | None = None) -> None:
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


def _experiment(args: argparse.Namespace):
    """The ExperimentConfig of a command's parsed options (validated on construction)."""
    import dataclasses

    from serkit.experiment import ExperimentConfig

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(ExperimentConfig) if hasattr(args, f.name)}
    values = {k: v for k, v in values.items() if v is not None}
    return ExperimentConfig(**values)


def _add_cache_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="feature cache folder (default: $SERKIT_CACHE or ~/.cache/serkit/features)")
    p.add_argument("--no-cache", action="store_true", help="compute features without reading or writing the cache")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="feature-extraction processes (default: one per core, each single-threaded)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    _add_cache_options(p)
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="folds trained in parallel (single-threaded each)")


def _run(args: argparse.Namespace):
    from serkit.experiment import RunOptions

    return RunOptions(cache_dir=args.cache, no_cache=args.no_cache, workers=args.workers,
                      jobs=getattr(args, "jobs", 2), progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    from serkit.version import __version__

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
    fx.add_argument("--features", default="spectral_stats", metavar="NAME[OPTS][+NAME]",
                    help=f"feature sets to extract, with options in brackets ({_FEATURE_SETS})")
    _add_cache_options(fx)
    fsub.add_parser("list", help="list the feature sets", formatter_class=_Formatter,
                    description="List the registered feature sets.")

    ev = sub.add_parser("evaluate", help="cross-validate models and write reports", formatter_class=_Formatter,
                        description="Cross-validate one or more models (speaker-independent by default) and write "
                                    "metrics.json, classification_report.csv, confusion_matrix.png, predictions.csv "
                                    "and, for several models, model_selection.csv.")
    _add_experiment_options(ev, command="evaluate")
    ev.add_argument("--output", default=None, metavar="DIR",
                    help="report folder: new, empty, or an earlier evaluation's (default: print only)")
    ev.add_argument("--format", default="table", choices=["table", "json"], help="how to print the summary")
    _add_run_options(ev)

    tr = sub.add_parser("train", help="train a model on all the data and write a bundle", formatter_class=_Formatter,
                        description="Evaluate (unless --no-evaluate), then train on all the data and write a model "
                                    "bundle: config.json, labels.json, weights, metrics.json, card.md.")
    _add_experiment_options(tr, command="train")
    tr.add_argument("--output", required=True, metavar="BUNDLE", help="bundle folder to write")
    tr.add_argument("--no-evaluate", action="store_true", help="skip the cross-validation behind the card's scores")
    _add_run_options(tr)

    ad = sub.add_parser("adapt", help="adapt a model to your recordings, without labels", formatter_class=_Formatter,
                        description="Compute the feature statistics of your unlabelled recordings (any names, any "
                                    "folder layout; at least 10) and write a new bundle that normalises every input "
                                    "with them. The model must be trained with --normalize corpus.")
    ad.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders (recursive) or globs; no labels")
    ad.add_argument("--model", default=None, metavar="BUNDLE", help="model bundle (default: the bundled model)")
    ad.add_argument("--output", required=True, metavar="NEW_BUNDLE", help="adapted bundle folder to write")
    ad.add_argument("--workers", type=int, default=None, metavar="N", help="feature-extraction processes")
    ad.add_argument("--quiet", action="store_true", help="no progress bar")

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
    pr.add_argument("--backend", default="auto", choices=["auto", "native", "onnx"],
                    help="runtime: onnx runs the exported files without torch (needs `serkit export BUNDLE`); auto "
                         "uses them when the bundle has them")
    pr.add_argument("--adapt", action="store_true",
                    help="adapt the model on the files being predicted (at least 10; transductive, labelled so)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")

    from serkit.server.settings import ServerSettings, list_type, option_type, parse_hosts, parse_origins

    sv = sub.add_parser("serve", help="web page and REST API", formatter_class=_Formatter,
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

    ex = sub.add_parser("export", help="export a bundle's classifier to ONNX", formatter_class=_Formatter,
                        description="Export the classifier of a bundle to one self-contained model.onnx inside the "
                                    "bundle (and the Whisper encoder, for whisper_encoder features), checked against "
                                    "the native model and recorded in onnx.json.")
    ex.add_argument("bundle", metavar="BUNDLE", help="model bundle folder")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="export format")

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
            f"recovered {s['recovered']}" + (" (names break the scheme; speaker and emotion from their folders)"
                                             if s["recovered"] else ""),
        ]
        lines += [f"  - {x['path']}: {x['taken']}" for x in s["recovered_examples"]]
        if s["recovered"] > len(s["recovered_examples"]):
            lines.append(f"  ... and {s['recovered'] - len(s['recovered_examples'])} more (use --format json)")
        lines.append(f"skipped   {s['skipped']}")
        lines += [f"  - {x['path']}: {x['reason']}" for x in s["skipped_examples"]]
        if s["skipped"] > len(s["skipped_examples"]):
            lines.append(f"  ... and {s['skipped'] - len(s['skipped_examples'])} more (use --format json)")
        _emit("\n".join(lines), args.output)
    return EXIT_OK


def cmd_features_extract(args: argparse.Namespace) -> int:
    import time

    from serkit.corpora import load_dataset
    from serkit.experiment import feature_extractors
    from serkit.features import extract_features

    extractors = feature_extractors(args.features)
    names = [ex.name for ex in extractors]
    ds = load_dataset(args.data, labels=args.labels)
    cache = _run(args).cache()
    t0 = time.perf_counter()
    res = extract_features(ds.table["path"].tolist(), extractors, cache=cache, workers=args.workers,
                           progress=not args.quiet)
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
        options = ", ".join(f"{k}={v}" for k, v in spec.options.items())
        print(f"{spec.name:18s} {spec.family.name:8s} {spec.input:7s} {spec.description} [{options}]")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from serkit.evaluation import evaluate
    from serkit.reports import format_summary, summary_row

    r = evaluate(_experiment(args), run=_run(args), output=args.output)
    if args.format == "json":
        print(json.dumps({"protocol": r.config.protocol.value, "protocol_label": r.protocol_label, "scheme": r.scheme,
                          "features": r.config.feature_spec(), "n_files": r.n_files, "best": r.best,
                          "results": [{**summary_row(r, m), "per_fold": m.metrics["ua"]["per_fold"],
                                       "fold_names": [f.get("name") for f in m.metrics["folds"]]}
                                      for m in r.results.values()]}, indent=2))
    else:
        print(format_summary(r))
        if args.output:
            print(f"reports written to {args.output}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from serkit.training import train

    out = train(_experiment(args), args.output, run=_run(args), evaluate=not args.no_evaluate)
    m = json.loads((out / "metrics.json").read_text())
    scores = "".join(f"; {e['protocol_label']} UA {e['ua']:.1%} ± {e['ua_std']:.1%}" for e in m.get("evaluations", []))
    print(f"model bundle written to {out}{scores}")
    return EXIT_OK


def cmd_adapt(args: argparse.Namespace) -> int:
    from serkit.bundle import check_output
    from serkit.experiment import check_range
    from serkit.inference import Predictor

    if args.workers is not None:
        check_range("--workers", args.workers, 1, 1024)
    check_output(Path(args.output))  # before any work
    predictor = Predictor.load(args.model, backend="native")
    adapted = predictor.adapt(args.paths, progress=not args.quiet, workers=args.workers)
    out = adapted.save_adapted(args.output)
    a = adapted.bundle.adaptation or {}
    print(f"adapted bundle written to {out}: statistics of {a.get('files')} recordings ({a.get('hours', 0):.2f} h)"
          + (f", {a['skipped']} unreadable file(s) left out" if a.get("skipped") else ""))
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from serkit.experiment import check_range
    from serkit.inference import Predictor, expand_paths

    check_range("--top", args.top, 1, 1000)
    predictor = Predictor.load(args.model, min_confidence=args.min_confidence, backend=args.backend)
    files = expand_paths(args.paths)
    if not files:
        from serkit.errors import SerkitError

        raise SerkitError(f"no audio files found in {' '.join(args.paths)}")
    if args.adapt:
        predictor = predictor.adapt(files, progress=not args.quiet)
        predictor.transductive = True
        a = predictor.bundle.adaptation or {}
        print(f"serkit: adapted on the {a.get('files')} files being predicted (transductive): the predictions "
              "depend on the whole batch", file=sys.stderr)
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
    _emit(text, args.output)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"serkit: {r.error}", file=sys.stderr)
    if failed and len(failed) == len(results):
        return EXIT_ERROR  # nothing could be predicted: an error, not a partial result
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from serkit.server import ServerSettings, run

    limits = {} if args.max_concurrent is None else {"max_concurrent": args.max_concurrent}
    settings = ServerSettings(max_upload_mb=args.max_upload_mb, read_timeout=args.read_timeout,
                              upload_timeout=args.upload_timeout, keep_alive_timeout=args.keep_alive_timeout,
                              allowed_hosts=args.allowed_hosts, allowed_origins=args.allowed_origins or (), **limits)
    run(args.model, host=args.host, port=args.port, settings=settings)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from serkit.export import export_onnx

    out, diff = export_onnx(args.bundle)
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
    ("adapt", None): cmd_adapt,
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
