"""CRNN (Shi, Bai & Yao 2015): VGG-style CNN -> 2-layer BiLSTM -> per-timestep class scores for CTC.

Shapes: ``B`` batch, ``W`` input width (height is always 32), ``T`` timesteps, ``C`` classes (blank + chars).
Input ``(B, 1, 32, W)`` float, gray scaled to [-1, 1]; output ``(T, B, C)`` raw scores (logits).

The conv stack is the published one: seven 3x3 convs with 64, 128, 256, 256, 512, 512, 512 channels (the last
2x2 without padding), batch norm after the 3rd, 5th and 7th, max-pools 2x2, 2x2, then two (2,1) pools so
the width keeps 1/4 resolution. For input width ``W`` that gives ``T = W // 4 + 1`` steps
(:func:`timesteps`), and timestep ``t`` is centred on input x = ``4 * t`` (:data:`STRIDE`, :func:`step_x`).
``width`` scales every conv's channels, ``hidden`` is the LSTM size. ``rank`` > 0 factors the output
layer through ``rank`` features (``2*hidden -> rank -> C``): with the ~6 900 classes of a Chinese
charset the full layer is 2.7M multiply-adds a timestep, more than both LSTM layers; rank 128 makes it
0.9M (a training step on 2 CPU cores 3.2 -> 2.2 s). 0 (the default, and every older weight file) is
the one full layer.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from recognition.geometry import HEIGHT, STRIDE, step_x, timesteps

__all__ = ["CRNN", "HEIGHT", "STRIDE", "timesteps", "step_x"]

_CHANNELS = (64, 128, 256, 256, 512, 512, 512)
_BN = (2, 4, 6)


class CRNN(nn.Module):
    def __init__(self, num_classes: int, width: float = 1.0, hidden: int = 256, rank: int = 0):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must count the blank and at least one character, got {num_classes}")
        if width <= 0 or hidden <= 0 or rank < 0:
            raise ValueError(f"width and hidden must be positive and rank >= 0, got {width}, {hidden}, {rank}")
        self.num_classes, self.width, self.hidden, self.rank = int(num_classes), float(width), int(hidden), int(rank)
        ch = [max(8, int(round(c * width))) for c in _CHANNELS]
        layers: list[nn.Module] = []
        cin = 1
        for i, cout in enumerate(ch):
            k, p = (2, 0) if i == 6 else (3, 1)
            layers.append(nn.Conv2d(cin, cout, k, 1, p, bias=i not in _BN))
            if i in _BN:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
            if i in (0, 1):
                layers.append(nn.MaxPool2d(2, 2))
            elif i in (3, 5):
                layers.append(nn.MaxPool2d((2, 2), (2, 1), (0, 1)))
            cin = cout
        self.cnn = nn.Sequential(*layers)
        self.rnn = nn.LSTM(cin, hidden, num_layers=2, bidirectional=True)
        self.fc = (nn.Sequential(nn.Linear(2 * hidden, rank, bias=False), nn.Linear(rank, num_classes)) if rank
                   else nn.Linear(2 * hidden, num_classes))
        self.to(memory_format=torch.channels_last)   # NHWC: oneDNN convolutions ~1.3x faster on CPU here

    def arch(self) -> dict:
        """Constructor arguments, stored in weight files (``rank`` only when used: older files lack it)."""
        return {"num_classes": self.num_classes, "width": self.width, "hidden": self.hidden,
                **({"rank": self.rank} if self.rank else {})}

    def forward(self, x: torch.Tensor, widths: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B,1,32,W); ``widths`` (B,) the unpadded input widths, so the BiLSTM never reads padding.
        Returns logits (T,B,C); steps past ``timesteps(widths[b])`` are padding and must be masked."""
        f = self.cnn(x.contiguous(memory_format=torch.channels_last))   # B,c,1,T
        f = f.squeeze(2).permute(2, 0, 1)         # T,B,c
        with torch.autocast("cpu", enabled=False):   # CPU bf16 LSTMs are slower than fp32 ones: keep it fp32
            return self.fc(self._rnn(f.float() if f.device.type == "cpu" else f, widths))

    def _rnn(self, f: torch.Tensor, widths: torch.Tensor | None) -> torch.Tensor:
        if widths is not None:
            lengths = (widths.to("cpu", torch.int64) // STRIDE + 1).clamp(max=f.shape[0])
            packed = pack_padded_sequence(f, lengths, enforce_sorted=False)
            y, _ = self.rnn(packed)
            y, _ = pad_packed_sequence(y, total_length=f.shape[0])   # T,B,2h (zeros past each length)
        else:
            y, _ = self.rnn(f)                    # T,B,2h
        return y
