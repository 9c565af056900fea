"""What moves speaker-independent UA on top of the frozen Whisper tiny.en encoder (RAVDESS, 8 classes).

    python benchmarks/encoder_heads.py [--data ../shared/data/ravdess] [--slow]

Every variant uses the folds of `serkit evaluate --protocol speaker` (StratifiedGroupKFold k=5
by speaker, seed 0) and fits everything — scalers, projections, heads — on the training part
of each fold only. Prints mean ± std UA over folds, one line per variant:

  pooled stats  logistic regression (C=0.01, the `logreg` model) on mean+std of all 6 encoder
                states (= `whisper_encoder`), then with 10th/90th percentiles added;
  fusion        + eGeMAPS (concatenated), + ComParE (late fusion of two logregs, 2:1);
  NAP           nuisance attribute projection: the 10 main directions of the training speakers'
                mean features projected out of every clip (removes speaker variation without
                needing the test speaker's files);
  crops         3 random 1.5 s crops of each training clip as extra training rows;
  augmented     one noise-augmented copy of each training clip (`--augment noise`);
  --slow adds   an attentive statistics-pooling head over the frame states (30 epochs), and
                fine-tuning the encoder's 4 blocks from the cached stem (4 epochs, lr 2e-5).

Not a test; minutes on 2 cores (the --slow variants about 20 minutes more).
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

from serkit.metrics import unweighted_accuracy as ua  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"


def _frames(paths: list[str]) -> list[np.ndarray]:
    import torch

    torch.set_num_threads(1)
    from serkit import audio
    from serkit.features.whisper import WhisperEncoderFeatures

    ex = WhisperEncoderFeatures()
    return [ex.frames(audio.load(p)).astype(np.float16) for p in paths]


def all_frames(paths: list[str]) -> list[np.ndarray]:
    """(6, T, 384) encoder states over the speech part of every clip, two worker processes."""
    from serkit.parallel import parallel_map

    chunks = [(paths[k : k + 40],) for k in range(0, len(paths), 40)]
    return [f for part in parallel_map(_frames, chunks, n_jobs=2) for f in part]


def logreg():
    """The registry's `logreg`, so every variant is compared with exactly what `serkit evaluate` fits."""
    from serkit.models import build_model

    return build_model("logreg")


def report(name: str, scores: list[float], t0: float) -> None:
    print(f"{name:44s} UA {np.mean(scores):6.1%} ± {np.std(scores):5.1%}   "
          f"folds {' '.join(f'{s:.3f}' for s in scores)}   {time.perf_counter() - t0:5.0f} s", flush=True)


def cv(name: str, folds, fold_fn) -> None:
    """fold_fn(train, test) -> UA, run for the folds two at a time, single-threaded each."""
    from threadpoolctl import threadpool_limits

    from serkit.parallel import parallel_map

    def one(f):
        with threadpool_limits(1):
            return fold_fn(f.train, f.test)

    t0 = time.perf_counter()
    report(name, list(parallel_map(one, [(f,) for f in folds], n_jobs=2)), t0)


def pooled(h: np.ndarray, extra: bool = False) -> np.ndarray:
    h = h.astype(np.float32)
    parts = [h.mean(1), h.std(1)] + ([np.percentile(h, 10, axis=1), np.percentile(h, 90, axis=1)] if extra else [])
    return np.concatenate(parts, axis=1).reshape(-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--slow", action="store_true", help="also train the attentive head and fine-tune the encoder")
    args = ap.parse_args()

    from serkit.corpora import load_dataset
    from serkit.evaluation import Protocol, make_folds
    from serkit.features import FeatureCache, Variant, extract_features

    table = load_dataset([args.data]).table
    folds, scheme = make_folds(table, Protocol.SPEAKER)
    paths = table["path"].tolist()
    y = table["emotion"].to_numpy()
    speakers = table["speaker"].to_numpy()
    t0 = time.perf_counter()
    frames = all_frames(paths)
    print(f"{len(paths)} clips, {scheme}; encoder states in {time.perf_counter() - t0:.0f} s", flush=True)
    W = np.stack([pooled(h) for h in frames])
    cache = FeatureCache(None)
    hand = extract_features(paths, ["egemaps", "compare"], cache=cache, progress=False)
    E, C = hand.stacked("egemaps"), hand.stacked("compare")

    def fit_eval(X, train, test):
        return ua(y[test], logreg().fit(X[train], y[train]).predict(X[test]))

    cv("logreg on mean+std of all states", folds, lambda tr, te: fit_eval(W, tr, te))
    Wp = np.stack([pooled(h, extra=True) for h in frames])
    cv("  + 10th/90th percentiles", folds, lambda tr, te: fit_eval(Wp, tr, te))
    WE = np.hstack([W, E])
    cv("  + eGeMAPS (concatenated)", folds, lambda tr, te: fit_eval(WE, tr, te))

    def late(tr, te):
        a, b = logreg().fit(W[tr], y[tr]), logreg().fit(C[tr], y[tr])
        score = 2 * np.log(a.predict_proba(W[te]) + 1e-9) + np.log(b.predict_proba(C[te]) + 1e-9)
        return ua(y[te], a.classes_[score.argmax(1)])

    cv("  + ComParE (late fusion 2:1)", folds, late)

    def nap(tr, te, k=10):
        from sklearn.preprocessing import StandardScaler

        sc = StandardScaler().fit(W[tr])
        Z = sc.transform(W[tr])
        means = np.stack([Z[speakers[tr] == s].mean(0) for s in np.unique(speakers[tr])])
        V = np.linalg.svd(means - means.mean(0), full_matrices=False)[2][:k].T
        proj = lambda X: (lambda Z: Z - (Z @ V) @ V.T)(sc.transform(X))  # noqa: E731
        return ua(y[te], logreg().fit(proj(W[tr]), y[tr]).predict(proj(W[te])))

    cv("  NAP: 10 speaker directions projected out", folds, nap)

    rng = np.random.default_rng(0)
    crops = []
    for h in frames:
        T = h.shape[1]
        starts = rng.integers(0, max(1, T - 75 + 1), size=3)
        crops.append(np.stack([pooled(h[:, s : s + 75]) for s in starts]))
    crops = np.stack(crops)

    def with_crops(tr, te):
        X = np.vstack([W[tr]] + [crops[tr, k] for k in range(crops.shape[1])])
        return ua(y[te], logreg().fit(X, np.tile(y[tr], 1 + crops.shape[1])).predict(W[te]))

    cv("  + 3 random 1.5 s crops per training clip", folds, with_crops)
    noisy = extract_features(paths, ["whisper_encoder"], cache=cache, progress=False,
                             variants=[Variant("noise", 0, 0)] * len(paths)).stacked("whisper_encoder")
    noisy = noisy.reshape(len(paths), -1)

    def with_noise(tr, te):
        X = np.vstack([W[tr], noisy[tr]])
        return ua(y[te], logreg().fit(X, np.tile(y[tr], 2)).predict(W[te]))

    cv("  + a noise-augmented copy per training clip", folds, with_noise)
    if args.slow:
        slow_heads(frames, y, folds)


def slow_heads(frames: list[np.ndarray], y: np.ndarray, folds) -> None:
    import torch
    from torch import nn

    from serkit.features.whisper import load_encoder

    torch.set_num_threads(2)
    classes = sorted(set(y))
    yi = np.array([classes.index(c) for c in y])
    encoder = load_encoder(None)

    class Attentive(nn.Module):
        def __init__(self, n: int, h: int = 256) -> None:
            super().__init__()
            self.layer_logits = nn.Parameter(torch.zeros(6))
            self.norm = nn.LayerNorm(384)
            self.proj = nn.Sequential(nn.Linear(384, h), nn.ReLU(), nn.Dropout(0.3))
            self.att = nn.Sequential(nn.Linear(h, 64), nn.Tanh(), nn.Linear(64, 1))
            self.out = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * h, n))

        def forward(self, x, mask):  # x (B, 6, T, d), mask (B, T)
            z = self.proj(self.norm((x * torch.softmax(self.layer_logits, 0)[None, :, None, None]).sum(1)))
            a = torch.softmax(self.att(z).squeeze(-1).masked_fill(~mask, -1e9), 1).unsqueeze(-1)
            mu = (a * z).sum(1)
            sd = ((a * (z - mu[:, None]) ** 2).sum(1) + 1e-5).sqrt()
            return self.out(torch.cat([mu, sd], 1))

    class FineTuned(nn.Module):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.blocks = copy.deepcopy(encoder.blocks)
            self.ln = copy.deepcopy(encoder.ln_post)
            self.norm = nn.BatchNorm1d(6 * 768, affine=False)
            self.out = nn.Sequential(nn.Dropout(0.2), nn.Linear(6 * 768, n))

        def forward(self, x, mask=None):  # x (B, T, d): the stem output (state 0)
            states = [x]
            for block in self.blocks:
                x = block(x)
                states.append(x)
            states.append(self.ln(x))
            return self.out(self.norm(torch.cat([torch.cat([s.mean(1), s.std(1)], 1) for s in states], 1)))

    def padded(ix, data):
        T = max(data[i].shape[-2] for i in ix)
        x = np.zeros((len(ix), *data[ix[0]].shape[:-2], T, 384), np.float32)
        m = np.zeros((len(ix), T), bool)
        for k, i in enumerate(ix):
            t = data[i].shape[-2]
            x[k, ..., :t, :] = data[i]
            m[k, :t] = True
        return torch.from_numpy(x), torch.from_numpy(m)

    def run(name, make, data, epochs, lr_body, crop):
        t0 = time.perf_counter()
        scores = []
        for f in folds:
            torch.manual_seed(0)
            rng = np.random.default_rng(0)
            model = make(len(classes))
            head = [p for n_, p in model.named_parameters() if not n_.startswith(("blocks", "ln."))]
            body = [p for n_, p in model.named_parameters() if n_.startswith(("blocks", "ln."))]
            groups = [{"params": head, "lr": 1e-3}] + ([{"params": body, "lr": lr_body}] if body else [])
            opt = torch.optim.AdamW(groups, weight_decay=1e-2)
            counts = np.bincount(yi[f.train], minlength=len(classes))
            loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(len(f.train) / (len(classes) * counts),
                                                              dtype=torch.float32), label_smoothing=0.1)
            for _ in range(epochs):
                model.train()
                order = rng.permutation(f.train)
                for b in range(0, len(order), 32):
                    ix = order[b : b + 32]
                    if crop:
                        batch = []
                        for i in ix:
                            T = data[i].shape[-2]
                            s = int(rng.integers(0, max(1, T - crop + 1)))
                            piece = data[i][..., s : s + crop, :]
                            batch.append(np.pad(piece, ((0, crop - piece.shape[-2]), (0, 0)), mode="wrap"))
                        x, m = torch.from_numpy(np.stack(batch)), None
                    else:
                        x, m = padded(ix, data)
                    loss = loss_fn(model(x, m), torch.from_numpy(yi[ix]))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            model.eval()
            with torch.no_grad():
                pred = [int(model(*padded([i], data)).argmax()) if not crop else
                        int(model(torch.from_numpy(data[i][None].astype(np.float32))).argmax()) for i in f.test]
            scores.append(ua(yi[f.test], np.array(pred)))
        report(name, scores, t0)

    full = [h.astype(np.float32) for h in frames]
    run("attentive pooling head (30 epochs)", Attentive, full, 30, 0.0, 0)
    stem = [h[0].astype(np.float32) for h in frames]
    run("fine-tuned encoder blocks (4 epochs)", FineTuned, stem, 4, 2e-5, 100)


if __name__ == "__main__":
    main()
