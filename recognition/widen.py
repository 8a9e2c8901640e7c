"""Function-preserving widening of a trained CRNN ("Net2WiderNet", Chen, Goodfellow & Shlens 2016).

    python -m recognition.widen small.pt --width 0.75 --hidden 256 [--noise 0.01] [--seed 0] --out wide.pt

A wider preset started from a trained narrower one reads, before its first step, exactly as the narrow one
did, so training it continues from the narrow model's accuracy instead of from scratch (which on 2 CPU cores
would take days). Every widened layer keeps its old units at their old indices and fills the new ones with
copies of randomly chosen old units; every consumer of a copied unit divides that unit's outgoing weights by
its number of copies, so the sum it computes is unchanged::

    new unit j copies old unit g(j)        (g(j) = j for the old units, random for the new ones)
    W_out'[:, j] = W_out[:, g(j)] / n(g(j))    n(u) = how many new units copy old unit u (itself included)

That holds through ReLU, max-pooling and batch norm (channel-wise: a copy's statistics equal its original's)
and through an LSTM: a copied hidden unit gets its original's gate rows (input and recurrent) and so keeps the
same cell and hidden state at every step, since the recurrent sums it reads are unchanged too. The two
directions of each BiLSTM layer get their own maps; the next layer and the final projection read
``[forward, backward]`` concatenated.

Copies start identical and would get identical gradients for ever, so ``noise`` adds Gaussian noise of that
fraction of each weight tensor's standard deviation to the copies' incoming weights (0 = exact). The conv
channel counts follow :class:`recognition.crnn.CRNN` (``max(8, round(c * width))``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from recognition import weightfile
from recognition.crnn import CRNN

__all__ = ["widen"]


def _map(old: int, new: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(g, n): ``g[j]`` the old unit new unit ``j`` copies, ``n[u]`` the number of new units copying old ``u``."""
    g = torch.cat([torch.arange(old), torch.randint(0, old, (new - old,), generator=gen)])
    return g, torch.bincount(g, minlength=old).float()


def _noisy(w: torch.Tensor, fresh: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """``w`` with noise of ``noise * w.std()`` added along dim 0 where ``fresh`` (the copies) is true."""
    if noise > 0 and bool(fresh.any()):
        w = w.clone()
        w[fresh] += torch.randn(w[fresh].shape, generator=gen) * (noise * float(w.std()))
    return w


def _gates(t: torch.Tensor, g: torch.Tensor, old: int) -> torch.Tensor:
    """Rows of an LSTM tensor laid out as the 4 gate blocks (i, f, g, o) of ``old`` rows, picked by ``g``."""
    return torch.cat([t[k * old:(k + 1) * old][g] for k in range(4)])


@torch.no_grad()
def widen(model: CRNN, width: float, hidden: int, noise: float = 0.01, seed: int = 0) -> CRNN:
    """A :class:`CRNN` of ``width`` and ``hidden`` (each at least the model's) that computes what ``model``
    computes (up to ``noise``; exactly with 0). Raises ``ValueError`` when asked to narrow."""
    wide = CRNN(model.num_classes, width=width, hidden=hidden)
    children = list(model.cnn.named_children())
    bn_after = {name: nxt for (name, _), (nxt, m) in zip(children, children[1:]) if isinstance(m, nn.BatchNorm2d)}
    convs = [(name, conv, wide.cnn[int(name)], bn_after.get(name))     # (index, old conv, new conv, its BN)
             for name, conv in children if isinstance(conv, nn.Conv2d)]
    if any(b.out_channels < a.out_channels for _, a, b, _ in convs) or hidden < model.hidden:
        raise ValueError(f"widen only grows a model: width {model.width} -> {width}, hidden {model.hidden} -> {hidden}")
    gen = torch.Generator().manual_seed(seed)
    old_sd, sd = model.state_dict(), wide.state_dict()
    g_in, n_in = torch.zeros(1, dtype=torch.long), torch.ones(1)    # the gray input channel: never copied
    for name, a, b, bn in convs:
        g, n = _map(a.out_channels, b.out_channels, gen)
        fresh = torch.arange(b.out_channels) >= a.out_channels
        w = old_sd[f"cnn.{name}.weight"][g][:, g_in] / n_in[g_in].view(1, -1, 1, 1)   # out', in', kh, kw
        sd[f"cnn.{name}.weight"] = _noisy(w, fresh, noise, gen)
        if a.bias is not None:
            sd[f"cnn.{name}.bias"] = old_sd[f"cnn.{name}.bias"][g]
        for p in ("weight", "bias", "running_mean", "running_var") if bn else ():
            sd[f"cnn.{bn}.{p}"] = old_sd[f"cnn.{bn}.{p}"][g]
        g_in, n_in = g, n
    # BiLSTM: the input of layer 0 is the last conv's channels; of layer 1 and the projection, [fwd, bwd].
    h0, h1 = model.hidden, hidden
    col_g, col_n = g_in, n_in[g_in]                     # per new input column: old column, its copy count
    for layer in range(model.rnn.num_layers):
        outs = []
        for sfx in ("", "_reverse"):
            g, n = _map(h0, h1, gen)
            fresh = (torch.arange(h1) >= h0).repeat(4)          # rows of the new units in each gate block
            p = f"rnn.{{}}_l{layer}{sfx}"
            wih = _gates(old_sd[p.format("weight_ih")], g, h0)[:, col_g] / col_n
            whh = _gates(old_sd[p.format("weight_hh")], g, h0)[:, g] / n[g]
            sd[p.format("weight_ih")] = _noisy(wih, fresh, noise, gen)
            sd[p.format("weight_hh")] = _noisy(whh, fresh, noise, gen)
            for bias in ("bias_ih", "bias_hh"):
                sd[p.format(bias)] = _gates(old_sd[p.format(bias)], g, h0)
            outs.append((g, n))
        (gf, nf), (gb, nb) = outs
        col_g = torch.cat([gf, gb + h0])
        col_n = torch.cat([nf[gf], nb[gb]])
    sd["fc.weight"] = old_sd["fc.weight"][:, col_g] / col_n
    sd["fc.bias"] = old_sd["fc.bias"]
    wide.load_state_dict(sd)
    return wide.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recognition.widen", description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, help="trained recognizer weight file")
    ap.add_argument("--width", type=float, required=True, help="conv width multiplier of the wider model")
    ap.add_argument("--hidden", type=int, required=True, help="LSTM size of the wider model")
    ap.add_argument("--noise", type=float, default=0.01, help="symmetry-breaking noise on the copies (default 0.01)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the copy maps and the noise")
    ap.add_argument("--out", type=Path, required=True, help="weight file to write (fp32: fp16 would blur the copies)")
    args = ap.parse_args(argv)
    try:
        model, charset, prov = weightfile.load(args.file)
        wide = widen(model, args.width, args.hidden, args.noise, args.seed)
    except ValueError as exc:                          # WeightFileError is a ValueError
        print(f"recognition.widen: {exc}", file=sys.stderr)
        return 2
    prov = dict(prov, widened={"file": str(args.file), "from": model.arch(), "noise": args.noise, "seed": args.seed})
    weightfile.save(args.out, wide, charset, prov, half=False)
    print(f"wrote {args.out}: width {model.width} -> {args.width}, hidden {model.hidden} -> {args.hidden}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
