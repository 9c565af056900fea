"""PyTorch architectures. Input normalisation is a layer (buffers fitted on the training
fold), so the exported model — and its ONNX twin — carries its own scaling."""

from __future__ import annotations

import torch
from torch import nn


class Standardise(nn.Module):
    """(x - mean) / std with statistics fitted on training data only (see TorchClassifier.fit)."""

    mean: torch.Tensor  # buffers (register_buffer), typed for the checker
    std: torch.Tensor

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class CnnMfcc(nn.Module):
    """The seed CNN on the 25 x 216 MFCC matrix: 4 x (Conv 32 3x3, BN, MaxPool 2, Dropout),
    Dense 64, Dropout, BN, Dropout, Dense. 56,040 parameters with 8 classes
    (55,656 trainable + 384 BatchNorm running statistics)."""

    def __init__(self, input_shape: tuple[int, int], n_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.norm = Standardise((input_shape[0], 1))  # per MFCC coefficient, over all frames
        blocks: list[nn.Module] = []
        channels = 1
        h, w = input_shape
        for _ in range(4):
            blocks += [
                nn.Conv2d(channels, 32, 3, padding=1),
                nn.BatchNorm2d(32),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Dropout(dropout),
            ]
            channels = 32
            h, w = h // 2, w // 2
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * h * w, 64),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.BatchNorm1d(64),
            nn.Dropout(dropout),
            nn.Linear(64, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.norm(x).unsqueeze(1)))


class CnnFeatures(nn.Module):
    """The seed 1-D CNN over a feature vector: alternating Conv1D kernels 5 and 3 with MaxPool(3, 2)."""

    def __init__(self, input_shape: tuple[int], n_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        (d,) = input_shape
        self.norm = Standardise((d,))
        layers: list[nn.Module] = []
        channels, length = 1, d
        for i, (out, k) in enumerate([(64, 5), (64, 3), (32, 5), (32, 3)]):
            layers += [nn.Conv1d(channels, out, k, padding=k // 2), nn.BatchNorm1d(out), nn.ReLU(), nn.MaxPool1d(3, 2)]
            if i % 2:
                layers.append(nn.Dropout(dropout))
            channels, length = out, (length - 3) // 2 + 1
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * length, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.norm(x).unsqueeze(1)))


class Mlp(nn.Module):
    """Plain MLP, or the EMO-DB seed's 3 x 50 units with batch-norm (batch_norm=True)."""

    def __init__(
        self,
        input_shape: tuple[int],
        n_classes: int,
        hidden: tuple[int, ...] = (256, 128),
        dropout: float = 0.3,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        (d,) = input_shape
        self.norm = Standardise((d,))
        layers: list[nn.Module] = []
        prev = d
        for h in hidden:
            layers.append(nn.Linear(prev, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            prev = h
        layers.append(nn.Linear(prev, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(x))


class LayerWeightedHead(nn.Module):
    """For stacked encoder states (n_states, dim): a learned softmax-weighted sum of the
    states, then a small MLP. Learns which Whisper layers matter instead of guessing."""

    def __init__(self, input_shape: tuple[int, int], n_classes: int, hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        n_states, dim = input_shape
        self.norm = Standardise((n_states, dim))
        self.layer_logits = nn.Parameter(torch.zeros(n_states))
        self.net = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.layer_logits, dim=0)
        return self.net((self.norm(x) * w[None, :, None]).sum(dim=1))


ARCHS = {
    "cnn_mfcc": (CnnMfcc, {}),
    "cnn_features": (CnnFeatures, {}),
    "mlp": (Mlp, {}),
    "mlp_bn": (Mlp, {"hidden": (50, 50, 50), "dropout": 0.0, "batch_norm": True}),
    "mlp_bn_dropout": (Mlp, {"hidden": (50, 50, 50), "dropout": 0.3, "batch_norm": True}),
    "layer_head": (LayerWeightedHead, {}),
}


def build(arch: str, input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    cls, kwargs = ARCHS[arch]
    return cls(tuple(input_shape), n_classes, **kwargs)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable parameters, BatchNorm running means + variances): what Keras' summary counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    running = sum(
        m.running_mean.numel() + m.running_var.numel()
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None and m.running_var is not None
    )
    return trainable, running
