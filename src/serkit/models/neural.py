"""A scikit-learn estimator around the one training loop every torch model shares."""

from __future__ import annotations

import copy
import sys

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from serkit.metrics import unweighted_accuracy
from serkit.models.options import TorchOptions

_DEFAULTS = TorchOptions()  # the options' one declaration, with their ranges


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Adam (lr 1e-3), ReduceLROnPlateau, batch 32, early stopping on held-out speakers' UA.

    `fit(X, y, groups=speakers)` carves the validation part out of the training fold by
    speaker, so early stopping never sees a test speaker nor a training speaker.
    """

    def __init__(
        self,
        arch: str = "mlp",
        *,
        epochs: int = _DEFAULTS.epochs,
        batch_size: int = _DEFAULTS.batch_size,
        lr: float = _DEFAULTS.lr,
        weight_decay: float = _DEFAULTS.weight_decay,
        patience: int = _DEFAULTS.patience,
        validation_fraction: float = _DEFAULTS.validation_fraction,
        class_weight: str | None = "balanced",
        random_state: int = 0,
        verbose: bool = False,
    ) -> None:
        self.arch = arch
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose

    # -- helpers -------------------------------------------------------------------
    def _split(self, y: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        idx = np.arange(len(y))
        if not self.validation_fraction or len(y) < 20:
            return idx, idx[:0]
        if groups is not None and len(np.unique(groups)) >= 3:
            from sklearn.model_selection import GroupShuffleSplit

            n_val = max(1, int(round(len(np.unique(groups)) * self.validation_fraction)))
            splitter = GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=self.random_state)
            train, val = next(splitter.split(idx, y, groups))
        else:
            from sklearn.model_selection import StratifiedShuffleSplit

            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=self.random_state
            )
            try:
                train, val = next(splitter.split(idx, y))
            except ValueError:
                return idx, idx[:0]
        return train, val

    def fit(self, X: np.ndarray, y, groups=None, origin=None) -> TorchClassifier:
        """groups: speakers (validation speakers are held out); origin: for each row, the index of
        the original file it was augmented from, so copies never enter the validation part."""
        import torch
        from torch import nn

        from serkit.models.nets import Standardise, build

        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        X = np.asarray(X, dtype=np.float32)
        self.classes_, y_idx = np.unique(np.asarray(y), return_inverse=True)
        n_classes = len(self.classes_)
        self.input_shape_ = tuple(X.shape[1:])
        if origin is None:
            train_idx, val_idx = self._split(y_idx, None if groups is None else np.asarray(groups))
        else:
            # Split the originals only; then every copy follows its original into training,
            # and validation keeps originals alone.
            origin = np.asarray(origin)
            originals = np.unique(origin, return_index=True)[1]
            g = None if groups is None else np.asarray(groups)[originals]
            _, va_o = self._split(y_idx[originals], g)
            val_idx = originals[va_o]
            val_origins = set(origin[val_idx].tolist())
            train_idx = np.flatnonzero(~np.isin(origin, list(val_origins)))
        Xt, yt = X[train_idx], y_idx[train_idx]

        model = build(self.arch, self.input_shape_, n_classes)
        # Normalisation statistics from the training part only.
        norm = model.norm
        assert isinstance(norm, Standardise)  # every architecture in ARCHS standardises its input first
        reduce_axes = tuple(i for i in range(X.ndim) if i == 0 or norm.mean.shape[i - 1] == 1)
        mean = Xt.mean(axis=reduce_axes, keepdims=True)[0]
        std = Xt.std(axis=reduce_axes, keepdims=True)[0] + 1e-6
        norm.mean.copy_(torch.from_numpy(mean.reshape(norm.mean.shape)))
        norm.std.copy_(torch.from_numpy(std.reshape(norm.std.shape)))

        weights = None
        if self.class_weight == "balanced":
            counts = np.bincount(yt, minlength=n_classes).astype(np.float32)
            weights = torch.from_numpy(len(yt) / (n_classes * np.maximum(counts, 1)))
        loss_fn = nn.CrossEntropyLoss(weight=weights)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
        Xt_t, yt_t = torch.from_numpy(Xt), torch.from_numpy(yt.astype(np.int64))
        Xv_t = torch.from_numpy(X[val_idx]) if len(val_idx) else None
        yv = y_idx[val_idx]

        best_state, best_score, since_best = None, -np.inf, 0
        self.history_: list[dict] = []
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.epochs, desc=f"train {self.arch}", unit="epoch", leave=False, file=sys.stderr)
        for epoch in range(self.epochs):
            model.train()
            order = rng.permutation(len(yt))
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                b = order[start : start + self.batch_size]
                if len(b) < 2:  # BatchNorm cannot train on a single example
                    continue
                opt.zero_grad()
                loss = loss_fn(model(Xt_t[b]), yt_t[b])
                loss.backward()
                opt.step()
                total += loss.item() * len(b)
            record = {"epoch": epoch + 1, "loss": total / max(1, len(yt))}
            if Xv_t is not None:
                model.eval()
                with torch.inference_mode():
                    pred = model(Xv_t).argmax(1).numpy()
                score = unweighted_accuracy(yv, pred)
                record["val_ua"] = score
                sched.step(score)
                if score > best_score + 1e-4:
                    best_score, since_best = score, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    since_best += 1
            self.history_.append(record)
            if bar is not None:
                bar.set_postfix({k: round(v, 3) for k, v in record.items() if k != "epoch"})
                bar.update(1)
            if Xv_t is not None and since_best >= self.patience:
                break
        if bar is not None:
            bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        self.model_ = model
        self.n_epochs_ = len(self.history_)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import torch

        X = np.asarray(X, dtype=np.float32)
        self.model_.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(X), 256):
                out.append(torch.softmax(self.model_(torch.from_numpy(X[start : start + 256])), dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), dtype=np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    # -- persistence (safetensors + params: no pickle) -------------------------------
    def state(self) -> dict:
        return {k: v.detach().cpu().contiguous() for k, v in self.model_.state_dict().items()}

    @classmethod
    def from_state(cls, params: dict, classes: list[str], input_shape: tuple[int, ...], state: dict) -> TorchClassifier:
        from serkit.models.nets import build

        est = cls(**params)
        est.classes_ = np.asarray(classes)
        est.input_shape_ = tuple(input_shape)
        est.model_ = build(est.arch, est.input_shape_, len(classes))
        est.model_.load_state_dict(state)
        est.model_.eval()
        return est
