"""CTC decoding: greedy (best path) and prefix beam search, with per-character confidence and timestep.

Input is one line's per-timestep class probabilities ``probs`` (T,C) as numpy, already cut to the line's
own ``T`` (padding masked out by the caller). Class 0 is the blank (:class:`recognition.charset.Charset`).
Both decoders return a :class:`Decoded`: the class ids of the emitted characters, for each the timestep it
was emitted at and its probability there, and the line confidence (mean of the character confidences, 0 for
an empty line).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recognition.lm import EOS

__all__ = ["Decoded", "greedy", "beam_search", "align"]


@dataclass
class Decoded:
    ids: list[int]
    steps: list[int]
    confs: list[float]

    @property
    def confidence(self) -> float:
        return float(np.mean(self.confs)) if self.confs else 0.0


def greedy(probs: np.ndarray, blank: int = 0) -> Decoded:
    """Best path: argmax per step, repeats merged, blanks dropped. A character's timestep is the step of
    its run where it is most probable; its confidence is that probability."""
    best = probs.argmax(1)
    p = probs[np.arange(len(best)), best]
    ids, steps, confs = [], [], []
    prev = blank
    for t, (c, pc) in enumerate(zip(best.tolist(), p.tolist())):
        if c != blank and c == prev and confs and pc > confs[-1]:
            steps[-1], confs[-1] = t, pc            # same run: keep its most confident step
        elif c != blank and c != prev:
            ids.append(c)
            steps.append(t)
            confs.append(pc)
        prev = c
    return Decoded(ids, steps, confs)


def beam_search(probs: np.ndarray, beam_width: int = 8, blank: int = 0, prune: float = 1e-4,
                lm=None, chars: list[str] | None = None, lm_weight: float = 0.0, lm_bonus: float = 0.0) -> Decoded:
    """CTC prefix beam search (Hannun et al. 2014), renormalized per step, optionally fused with a language
    model.

    Each prefix keeps ``(p_blank, p_nonblank)``: the probability of all paths so far that yield the prefix
    and end in a blank / in its last character. Classes below ``prune`` at a step are not expanded.
    With ``lm`` (anything with ``logp(text, char)``, e.g. :class:`recognition.lm.CharLM`; ``chars[c]`` is
    class ``c``'s text) prefixes are ranked by ``log(p_blank + p_nonblank) + lm_weight * log P_lm(prefix) +
    lm_bonus * len(prefix)`` ("shallow fusion"; the bonus offsets the LM's pull towards short readings), and
    the winner's score includes the LM's end of line. Without it the ranking is by CTC probability alone.
    The winning string's characters get their timesteps and confidences from :func:`align` (its most
    probable path), chosen the same way as in :func:`greedy`. ``beam_width=1`` keeps one prefix per step.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    if lm is not None and chars is None:
        raise ValueError("beam search with a language model needs chars, the text of each class")
    beams: dict[tuple, tuple[float, float]] = {(): (1.0, 0.0)}
    fused: dict[tuple, tuple[str, float]] = {(): ("", 0.0)}        # prefix -> (its text, its LM + bonus score)

    def rank(kv) -> float:           # log CTC probability (+ LM and bonus): without an LM, the same order as p
        prefix, (pb, pnb) = kv
        return math.log(pb + pnb + 1e-300) + (fused[prefix][1] if lm is not None else 0.0)

    for t in range(probs.shape[0]):
        row = probs[t]
        cand = np.nonzero(row >= prune)[0].tolist() or [int(row.argmax())]
        nxt: dict[tuple, list] = {}
        for prefix, (pb, pnb) in beams.items():
            total = pb + pnb
            for c in cand:
                pc = float(row[c])
                if c == blank:
                    nxt.setdefault(prefix, [0.0, 0.0])[0] += total * pc
                    continue
                ext = nxt.setdefault(prefix + (c,), [0.0, 0.0])
                if lm is not None and prefix + (c,) not in fused:
                    text, sc = fused[prefix]
                    fused[prefix + (c,)] = (text + chars[c], sc + lm_weight * lm.logp(text, chars[c]) + lm_bonus)
                if prefix and c == prefix[-1]:
                    ext[1] += pb * pc                                    # a repeat counts only after a blank
                    nxt.setdefault(prefix, [0.0, 0.0])[1] += pnb * pc    # ...else it merges into the same char
                else:
                    ext[1] += total * pc
        ranked = sorted(nxt.items(), key=rank, reverse=True)[:beam_width]
        z = sum(b + n for _, (b, n) in ranked) or 1.0
        beams = {k: (b / z, n / z) for k, (b, n) in ranked}
    end = (lambda prefix: lm_weight * lm.logp(fused[prefix][0], EOS)) if lm is not None else (lambda prefix: 0.0)
    ids = list(max(beams.items(), key=lambda kv: rank(kv) + end(kv[0]))[0])
    steps, confs = align(probs, ids, blank)
    return Decoded(ids, steps, confs)


def align(probs: np.ndarray, ids: list[int], blank: int = 0) -> tuple[list[int], list[float]]:
    """Viterbi forced alignment of ``ids`` to ``probs``: the most probable CTC path that reads exactly
    ``ids``. For each character, the step of its aligned run where it is most probable and that
    probability (as :func:`greedy` reports them)."""
    if not ids:
        return [], []
    lab = np.array([blank] + [x for c in ids for x in (c, blank)])          # S = 2L+1 states
    S, T = len(lab), probs.shape[0]
    logp = np.log(np.maximum(probs[:, lab], 1e-30))                        # T,S
    skip = np.zeros(S, bool)                                               # s-2 -> s allowed
    skip[2:] = (lab[2:] != blank) & (lab[2:] != lab[:-2])
    dp = np.full(S, -np.inf)
    dp[:2] = logp[0, :2]
    back = np.zeros((T, S), np.int8)                                       # how many states we moved
    for t in range(1, T):
        m1 = np.concatenate([[-np.inf], dp[:-1]])
        m2 = np.where(skip, np.concatenate([[-np.inf, -np.inf], dp[:-2]]), -np.inf)
        cand = np.stack([dp, m1, m2])
        back[t] = cand.argmax(0)
        dp = cand.max(0) + logp[t]
    s = S - 1 if S == 1 or dp[S - 1] >= dp[S - 2] else S - 2
    path = np.empty(T, int)
    for t in range(T - 1, -1, -1):
        path[t] = s
        s -= int(back[t, s])
    steps, confs = [], []
    for k, c in enumerate(ids):
        ts = np.nonzero(path == 2 * k + 1)[0]
        t = int(ts[probs[ts, c].argmax()]) if len(ts) else int(probs[:, c].argmax())
        steps.append(t)
        confs.append(float(probs[t, c]))
    return steps, confs
