"""How serkit's models do on a corpus they never saw: leave-one-corpus-out (LOCO) on ../shared/data.

    python benchmarks/generalisation.py [--data ../shared/data] [--seeds 5] [--out runs/generalisation]

For each corpus (RAVDESS, SAVEE, nEMO) a model is trained on the other two and tested on it, on the
classes both sides have; UA is the mean per-class recall. Rows:

  (a) today's default recipe before this change: all Whisper encoder states, mean+std, logreg C=0.01,
      no normalisation;
  (b) the new default configuration (read from the bundled model's config.json), unadapted: the
      held-out corpus is normalised with the pooled training statistics;
  (c) the same, adapted on 30 random unlabelled files of the held-out corpus (mean over --seeds draws);
  (d) adapted on 10 random files, and on 30 files of which 24 are neutral (an unlucky sample);
  (e) adapted on every file of the held-out corpus (the most adaptation can give).

With --nested, the choice of the recipe itself is checked: for each held-out corpus a recipe is
picked from a grid (encoder states x C, means, per-corpus normalisation) by leave-one-corpus-out
over the *other two* corpora only (train on one, test on the other, both ways), then scored on
the held-out corpus: a figure no choice was tuned on.

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
        spec.family.fit(est, X_train, tr.y, groups=tr.speakers, origin=tr.origin)
        pred = est.predict(X_test)
        out[fold.name] = unweighted_accuracy(ft.table["emotion"].to_numpy()[fold.test], np.asarray(pred))
    return out


def every_file(pool, table, rng):
    return pool


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


GRID_STATES = ((1, 2), (1, 2, 3), (2, 3), (0, 1, 2, 3, 4, 5))
GRID_C = (1e-4, 3e-4, 1e-3, 1e-2)


def nested(data: Path, new, run) -> None:
    """Nested LOCO: for each held-out corpus, the recipe that does best across the other two corpora."""
    import dataclasses as dc

    from serkit.evaluation import FeatureTable, load_table
    from serkit.experiment import Component, ExperimentConfig

    grid = [(states, c) for states in GRID_STATES for c in GRID_C]
    full = ExperimentConfig(data=new.data, labels=new.labels, features="whisper_encoder",
                            models="logreg", normalize="corpus")
    table, _ = load_table(full)
    ft_all = FeatureTable(table, full, run)
    states_all = ft_all.parts[0][:, :, :384]  # (n, 6, 384): every state's mean (row (a)'s cached features)
    scores = {"unadapted": {}, "adapted": {}}
    print(f"nested choice over {len(grid)} recipes (states x C; means, per-corpus normalisation):")
    for held in CORPORA:
        inner_rows = np.flatnonzero(ft_all.table["domain"].to_numpy() != held)
        best, best_score = None, -1.0
        for states, c in grid:
            cfg = dc.replace(full, models=(Component("logreg", (("C", c),)),))
            ft = _view(ft_all, states_all[:, list(states)], inner_rows)
            inner = loco(ft, cfg, random_files(30), np.random.default_rng(0))
            if np.mean(list(inner.values())) > best_score:
                best, best_score = (states, c), float(np.mean(list(inner.values())))
        states, c = best
        cfg = dc.replace(full, models=(Component("logreg", (("C", c),)),))
        ft = _view(ft_all, states_all[:, list(states)], np.arange(len(ft_all.table)))
        scores["unadapted"][held] = loco(ft, cfg)[held]
        draws = [loco(ft, cfg, random_files(30), np.random.default_rng(s))[held] for s in range(5)]
        scores["adapted"][held] = float(np.mean(draws))
        print(f"  held out {held}: chose states {states}, C={c:g} (inner LOCO {best_score:.1%}); "
              f"unadapted {scores['unadapted'][held]:.1%}, adapted on 30 files {scores['adapted'][held]:.1%}")
    for k, v in scores.items():
        print(f"nested LOCO, {k}: " + "  ".join(f"{c} {v[c]:.1%}" for c in CORPORA)
              + f"  mean {np.mean(list(v.values())):.1%}")


def _view(ft, states, rows):
    """A FeatureTable restricted to some rows, whose one feature block is the given array."""
    import copy

    view = copy.copy(ft)
    view.table = ft.table.iloc[rows].reset_index(drop=True)
    view.parts = [states[rows].reshape(len(rows), -1)]
    view.aug_parts = []
    return view


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--seeds", type=int, default=5, help="random draws of adaptation files, averaged")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--nested", action="store_true", help="also check the choice of recipe by nested LOCO")
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
                           ("(d) adapted on 30 files, 80% of them neutral", mostly_neutral(30, 0.8)),
                           ("(e) adapted on every file of the held-out corpus", every_file)):
            t0 = time.perf_counter()
            draws = [loco(ft, cfg, pick, np.random.default_rng(s)) for s in range(1 if pick is every_file else args.seeds)]
            row(name + ("" if pick is every_file else f" (mean of {args.seeds} draws)"), {c: float(np.mean([d[c] for d in draws])) for c in CORPORA},
                time.perf_counter() - t0)
    print()
    print("| recipe | " + " | ".join(CORPORA) + " | mean |")
    print("| --- | " + " | ".join("---" for _ in CORPORA) + " | --- |")
    for name, per, mean in rows:
        print(f"| {name} | " + " | ".join(f"{per[c]:.1%}" for c in CORPORA) + f" | **{mean:.1%}** |")
    if args.nested:
        nested(data, new, run)
    print()
    for label, cfg in (("before", old), ("new default", new)):
        within = dataclasses.replace(cfg, data=(str(data / "ravdess"),), protocol=Protocol.SPEAKER)
        r = evaluate(within, run=run)
        m = next(iter(r.results.values())).metrics.ua
        print(f"within RAVDESS, speaker-independent 5-fold, {label}: UA {m.mean:.1%} ± {m.std:.1%}")


if __name__ == "__main__":
    main()
