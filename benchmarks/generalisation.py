"""How serkit's models do on a corpus they never saw: leave-one-corpus-out (LOCO) on ../shared/data.

    python benchmarks/generalisation.py [--data ../shared/data] [--seeds 5] [--out runs/generalisation]

For each corpus (RAVDESS, SAVEE, nEMO) a model is trained on the other two and tested on it, on the
classes both sides have; UA is the mean per-class recall. Rows:

  (a) today's default recipe before this change: all Whisper encoder states, mean+std, logreg C=0.01,
      no normalisation;
  (b) the new default configuration (read from the bundled model's config.json), unadapted: the
      held-out corpus is normalised with the pooled training statistics;
  (c) the same, adapted on 30 random unlabelled files of the held-out corpus (mean over --seeds draws);
  (d) adapted on 10 random files, and on 30 files of which 24 are neutral (an unlucky sample).

No label of the held-out corpus is read for (b)-(d); its labels only score the predictions. The
within-corpus speaker-independent UA on RAVDESS of both configurations is printed too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CORPORA = ("ravdess", "savee", "nemo")
OLD_RECIPE = {"models": "logreg[C=0.01]", "features": "whisper_encoder", "normalize": "none"}


def default_experiment(data: Path):
    """The bundled default model's experiment, on this machine's corpora."""
    from serkit.experiment import ExperimentConfig
    from serkit.inference import default_model_path

    raw = json.loads((default_model_path() / "config.json").read_text())["experiment"]
    raw["data"] = [str(data / c) for c in CORPORA]
    return ExperimentConfig.from_dict(raw)


def loco(ft, config, pick=None, rng=None) -> dict[str, float]:
    """UA per held-out corpus; pick(pool_rows, table, rng) chooses the adaptation rows of the held-out corpus
    (None: unadapted)."""
    from serkit.evaluation import make_folds, normalise_fold
    from serkit.experiment import Protocol
    from serkit.metrics import unweighted_accuracy
    from serkit.models import build_model, get_model_spec

    folds, _ = make_folds(ft.table, Protocol.CORPUS)
    model = config.model
    spec = get_model_spec(model.name)
    domains = ft.column("domain", np.arange(len(ft.table)))
    out = {}
    for fold in folds:
        tr = ft.training_rows(spec.input, fold.train)
        adapt = None
        if pick is not None:
            rows = pick(np.flatnonzero(domains == fold.name), ft.table, rng)
            adapt = {fold.name: ft.X(spec.input, rows)}
        X_train, X_test = normalise_fold(config, tr, ft.X(spec.input, fold.test), ft.column("speaker", fold.test),
                                         ft.column("domain", fold.test), adapt)
        est = build_model(model.name, random_state=config.seed, **config.model_params(model))
        spec.family.fit(est, X_train, tr["y"], groups=tr["speakers"], origin=tr["origin"])
        pred = est.predict(X_test)
        out[fold.name] = unweighted_accuracy(ft.table["emotion"].to_numpy()[fold.test], np.asarray(pred))
    return out


def random_files(n: int):
    def pick(pool, table, rng):
        return rng.choice(pool, size=n, replace=False)

    return pick


def mostly_neutral(n: int, share: float):
    def pick(pool, table, rng):
        neutral = pool[table["emotion"].to_numpy()[pool] == "neutral"]
        k = int(round(n * share))
        rest = np.setdiff1d(pool, neutral)
        return np.concatenate([rng.choice(neutral, size=k, replace=False), rng.choice(rest, size=n - k, replace=False)])

    return pick


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--seeds", type=int, default=5, help="random draws of adaptation files, averaged")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    data = Path(args.data)
    from serkit.evaluation import FeatureTable, evaluate, load_table
    from serkit.experiment import ExperimentConfig, Protocol, RunOptions

    run = RunOptions(workers=args.workers, jobs=1, progress=False)
    new = default_experiment(data)
    old = ExperimentConfig(data=new.data, labels=new.labels, **OLD_RECIPE)
    rows = []

    def row(name: str, per: dict[str, float], seconds: float) -> None:
        mean = float(np.mean(list(per.values())))
        rows.append((name, per, mean))
        cells = "  ".join(f"{c} {per[c]:6.1%}" for c in CORPORA)
        print(f"{name:58s} {cells}  mean {mean:6.1%}   ({seconds:.0f} s)", flush=True)

    print(f"new default: {new.model} on {new.feature_spec()}, --normalize {new.normalize.value}")
    for label, cfg in (("(a) before: all states, mean+std, C=0.01, no normalisation", old), ("new", new)):
        t0 = time.perf_counter()
        table, _ = load_table(cfg)
        ft = FeatureTable(table, cfg, run)
        if cfg is old:
            row(label, loco(ft, cfg), time.perf_counter() - t0)
            continue
        row("(b) new default, unadapted", loco(ft, cfg), time.perf_counter() - t0)
        for name, pick in (("(c) adapted on 30 random unlabelled files", random_files(30)),
                           ("(d) adapted on 10 random unlabelled files", random_files(10)),
                           ("(d) adapted on 30 files, 80% of them neutral", mostly_neutral(30, 0.8))):
            t0 = time.perf_counter()
            draws = [loco(ft, cfg, pick, np.random.default_rng(s)) for s in range(args.seeds)]
            row(name + f" (mean of {args.seeds} draws)", {c: float(np.mean([d[c] for d in draws])) for c in CORPORA},
                time.perf_counter() - t0)
    print()
    print("| recipe | " + " | ".join(CORPORA) + " | mean |")
    print("| --- | " + " | ".join("---" for _ in CORPORA) + " | --- |")
    for name, per, mean in rows:
        print(f"| {name} | " + " | ".join(f"{per[c]:.1%}" for c in CORPORA) + f" | **{mean:.1%}** |")
    print()
    for label, cfg in (("before", old), ("new default", new)):
        within = dataclasses.replace(cfg, data=(str(data / "ravdess"),), protocol=Protocol.SPEAKER)
        r = evaluate(within, run=run)
        m = next(iter(r.results.values())).metrics["ua"]
        print(f"within RAVDESS, speaker-independent 5-fold, {label}: UA {m['mean']:.1%} ± {m['std']:.1%}")


if __name__ == "__main__":
    main()
