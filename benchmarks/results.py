"""The within-corpus results table of docs/evaluation.md: every model, speaker-independent, on RAVDESS, SAVEE and
both merged.

    python benchmarks/results.py [--data ../shared/data] [--out runs/results] [--only NAME,...] [--datasets ...]

Each row is one `serkit evaluate` run (same library call, same defaults): speaker-independent
cross-validation (grouped 5-fold on RAVDESS and the merge, leave-one-speaker-out on SAVEE),
mean ± std over folds. The best row of each data set is then re-run with the random split,
labelled speaker-dependent (optimistic), for contrast. Reports land in --out; the table is
printed as Markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# (model, features, per-speaker normalisation): the seeds' models on the seeds' features, then
# the pretrained encoder; the last rows add unsupervised per-speaker normalisation (transductive:
# each test speaker's features are z-scored with that speaker's own unlabelled files).
ROWS = [
    ("logreg", "compare", False),
    ("logreg", "egemaps", False),
    ("svm", "egemaps+spectral_stats", False),
    ("logreg", "spectral_stats", False),
    ("svm", "spectral_stats", False),
    ("random_forest", "spectral_stats", False),
    ("gradient_boosting", "spectral_stats", False),
    ("mlp", "spectral_stats", False),
    ("mlp_bn", "spectral_stats", False),
    ("mlp_bn_dropout", "spectral_stats", False),
    ("cnn_features", "spectral_stats", False),
    ("cnn_mfcc", "mfcc_matrix", False),
    ("logreg", "whisper_encoder", False),
    ("layer_head", "whisper_encoder", False),
    ("svm", "egemaps+spectral_stats", True),
    ("logreg", "compare", True),
    ("logreg", "whisper_encoder", True),
]


def row_key(model: str, feats: str, norm: bool) -> str:
    return f"{model}:{feats}" + (":speaker-norm" if norm else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default="runs/results")
    ap.add_argument("--only", default="", help="comma-separated rows to run, each MODEL, MODEL:FEATURES or "
                                                 "MODEL:FEATURES:speaker-norm (default: all rows)")
    ap.add_argument("--datasets", default="ravdess,savee,ravdess+savee")
    ap.add_argument("--no-random", action="store_true", help="skip the random-split contrast row")
    ap.add_argument("--cross", default="ravdess>savee,savee>ravdess",
                    help="cross-corpus pairs TRAIN>TEST for the encoder rows ('' to skip)")
    args = ap.parse_args()

    from serkit.evaluation import evaluate
    from serkit.experiment import ExperimentConfig, RunOptions
    from serkit.reports import summary_row

    data = Path(args.data)
    only = {x for x in args.only.split(",") if x}
    rows = [r for r in ROWS if not only or r[0] in only or row_key(*r) in only or row_key(*r[:2], False) in only]
    run = RunOptions(progress=False)
    table = []

    def record(name: str, cfg: ExperimentConfig, out: Path) -> dict:
        t0 = time.perf_counter()
        r = evaluate(cfg, run=run, output=out)
        row = {"data": name, **summary_row(r, next(iter(r.results.values()))), "wall": time.perf_counter() - t0}
        table.append(row)
        print(json.dumps(row), flush=True)
        return row

    for ds in args.datasets.split(","):
        specs = [str(data / part) for part in ds.split("+")]
        best = None
        for model, feats, norm in rows:
            out = Path(args.out) / ds / (f"{model}__{feats}" + ("__speaker-norm" if norm else ""))
            cfg = ExperimentConfig(data=specs, models=model, features=feats, normalize="speaker" if norm else "none")
            row = record(ds, cfg, out)
            if not norm and (best is None or row["ua"] > best["ua"]):
                best = row
        if best is not None and not args.no_random:
            out = Path(args.out) / ds / f"{best['model']}__{best['features']}__random"
            record(ds, ExperimentConfig(data=specs, models=best["model"], features=best["features"],
                                        protocol="random"), out)

    for pair in [p for p in args.cross.split(",") if p]:
        train_on, test_on = pair.split(">")
        for norm in (False, True):
            out = Path(args.out) / f"{train_on}-to-{test_on}" / ("logreg__whisper_encoder" + ("__speaker-norm" if norm else ""))
            record(f"{train_on} → {test_on}", ExperimentConfig(
                data=[str(data / train_on)], test_data=[str(data / test_on)], protocol="cross", models="logreg",
                features="whisper_encoder", normalize="speaker" if norm else "none"), out)

    print("\n| data | model | features | protocol | UA | WA | macro-F1 | s/fold |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in table:
        print(f"| {r['data']} | {r['model']} | {r['features']} | {r['protocol_label']} | "
              f"{r['ua']:.1%} ± {r['ua_std']:.1%} | {r['wa']:.1%} ± {r['wa_std']:.1%} | "
              f"{r['macro_f1']:.1%} ± {r['macro_f1_std']:.1%} | {r['seconds_per_fold']:.1f} |")


if __name__ == "__main__":
    main()
