"""VGG16 convolutional features (conv1_1 ... conv5_3), written here: there is no CPU torchvision.

Shapes: input ``B,3,H,W`` (normalised RGB); output ``B,C,H/16,W/16`` with ``C = round(512 * width)``.
Thirteen 3x3 convolutions in five blocks of 2, 2, 3, 3, 3 with ReLU (and BatchNorm when asked), a 2x2
max-pool after each of the first four blocks: the stride is 16, which :attr:`VGG16.stride` declares and
the anchors read. ``width`` scales every block's channels (1.0 = the published 64-128-256-512-512).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["VGG16", "BLOCKS"]

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convolutions) per block


def _ch(c: int, width: float) -> int:
    return max(8, int(round(c * width)))


class VGG16(nn.Module):
    stride = 16

    def __init__(self, width: float = 1.0, batch_norm: bool = True, in_channels: int = 3):
        super().__init__()
        self.width, self.batch_norm = float(width), bool(batch_norm)
        layers: list[nn.Module] = []
        c_in = in_channels
        for b, (c, n) in enumerate(BLOCKS):
            c_out = _ch(c, width)
            for _ in range(n):
                layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU(inplace=True))
                c_in = c_out
            if b < len(BLOCKS) - 1:
                layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.out_channels = c_in
        for m in self.modules():  # He init as in torchvision's VGG: keeps activations alive through 13 layers
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.features(x)


def fuse_batch_norm(features: nn.Sequential) -> nn.Sequential:
    """An inference copy of a conv/BN/ReLU stack with each batch norm folded into the conv before it:
    ``w' = w * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps) + beta`` (same outputs in eval
    mode, one pass over the activations less per layer)."""
    import copy

    layers, mods = [], list(features)
    i = 0
    while i < len(mods):
        m = mods[i]
        if isinstance(m, nn.Conv2d) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d):
            bn = mods[i + 1]
            conv = copy.deepcopy(m)
            k = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
            conv.weight = nn.Parameter(conv.weight.detach() * k.view(-1, 1, 1, 1).to(conv.weight.dtype))
            conv.bias = nn.Parameter(((bias - bn.running_mean) * k + bn.bias.detach()).to(conv.weight.dtype))
            layers.append(conv)
            i += 2
        else:
            layers.append(m)
            i += 1
    return nn.Sequential(*layers)
