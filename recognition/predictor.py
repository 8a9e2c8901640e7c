"""Recognizer predictor: line crops in, :class:`Recognition` results out, in input order.

pre-processing (:mod:`recognition.preprocess`: gray, height 32, aspect kept) -> width-sorted batches
(similar widths together, so little padding) -> :class:`recognition.crnn.CRNN` with per-crop widths (padded
steps never reach the BiLSTM) -> softmax cut to each crop's own steps -> CTC decoding
(:mod:`recognition.decoding`) -> character x positions mapped back to the crop's own pixels.

Tall crops (height >= 2 x width: vertical text such as form numbers printed up a page margin) are also
read turned 90 degrees each way, and the reading with the highest confidence wins, much as PaddleOCR's
pipeline turns tall crops; single characters, often taller than wide, mostly stay below that ratio.
:attr:`Recognition.rotation` says which reading was kept.

Dense readings are read twice. CTC needs about two timesteps (4 input pixels each) per character, and
narrow or condensed type at height 32 leaves fewer: readings with more than ``reread_dense`` (0.3)
characters per timestep and a confidence below ``reread_conf`` (0.98) are read again from the crop 1.3x
wider, and the more confident reading is kept (:attr:`Recognition.stretch`). How the settings were
picked, and what they cost and gain: docs/training.md (decoding settings).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recognition import decoding, preprocess
from recognition.charset import Charset
from recognition.geometry import step_x, timesteps

__all__ = ["Recognition", "Recognizer", "TorchNetwork"]


def _language_model(path, kw: dict):
    """The character language model in file ``path`` when the settings ``kw`` use one (``lm_weight`` > 0),
    shared with every other recognizer of the process that reads with the same file."""
    if path is None or kw.get("lm_weight", 0.0) <= 0:
        return None
    from recognition.lm import CharLM

    return CharLM.shared(path)


class TorchNetwork:
    """A :class:`CRNN` run by torch, as the predictor calls every backend's network: ``(x, widths)`` numpy
    (:func:`recognition.preprocess.batch_array`) -> character probabilities ``(T, B, C)`` float32 numpy.
    ``precision`` ``"bf16"`` runs it under bfloat16 autocast (fast on CPUs with AMX). torch is imported here,
    not with the module: a page read with another backend needs no torch installed."""

    backend = "torch"

    def __init__(self, model, device: str = "cpu", precision: str = "fp32"):
        import torch

        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.device = torch.device(device)
        self.model, self.precision = model.to(self.device).eval(), precision
        self.num_classes = model.num_classes

    def __call__(self, x: np.ndarray, widths: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
                logits = self.model(torch.from_numpy(x).to(self.device), torch.from_numpy(widths))   # T,B,C
            return logits.float().softmax(-1).cpu().numpy()


@dataclass
class Recognition:
    """One crop's reading. ``char_x[i]`` is the x (crop pixels) where ``text[i]`` was read, with
    ``char_conf[i]`` its probability; ``confidence`` is the mean of ``char_conf`` (0 for empty text)."""
    text: str
    confidence: float
    char_conf: list[float] = field(default_factory=list)
    char_x: list[float] = field(default_factory=list)
    rotation: int = 0      # degrees the crop was turned clockwise before reading (0, 90 or 270);
                           # ``char_x`` runs along the reading direction of the turned crop
    stretch: float = 1.0   # how much wider than its aspect ratio the kept reading saw the crop
    inverted: bool = False # the kept reading saw the crop's gray levels inverted (light text on dark)
    padded: bool = False   # the kept reading saw the crop with margins added (it was cut tight to its text)

    @property
    def chars(self) -> list[tuple[str, float, float]]:
        """``(character, x, confidence)`` for every character."""
        return list(zip(self.text, self.char_x, self.char_conf))


class Recognizer:
    """``Recognizer(model, charset)(crops)``; ``beam_width`` 1 = greedy, more = prefix beam search (classes
    below ``beam_prune`` at a step not expanded) for the readings whose greedy confidence is at least
    ``beam_above`` and below ``beam_below`` (0 and 1 = every reading), fused with the character language
    model ``lm`` (:class:`recognition.lm.CharLM`) at ``lm_weight`` with ``lm_bonus`` per character when one is
    given (:func:`recognition.decoding.beam_search`). Readings of very low confidence are mostly noise that
    the detector took for text: there a language model would only invent words.

    ``batch_pixels`` caps a batch at that many input pixel columns (crops x widest width), ``batch_size``
    at that many crops; crops are batched in order of width so each batch pads little. ``rotate_tall``
    also reads tall crops turned 90 degrees both ways and keeps the most confident reading.
    ``read_inverted`` also reads crops of light text on a dark ground
    (:func:`recognition.preprocess.light_on_dark`) with their gray levels inverted, as the network mostly
    saw dark ink on paper, and keeps the more confident reading. ``pad_tight`` also reads crops cut tight to
    their text (:func:`recognition.preprocess.cut_tight`) with a margin of ground added
    (:func:`recognition.preprocess.add_margins`), and keeps the more confident reading: for crops a user
    cut, not for a page's strips (see :meth:`__call__`).
    A reading denser than ``reread_dense`` characters per timestep and less confident than ``reread_conf``
    is read again from the crop resized ``reread_stretch`` times wider (1 = never), and the more confident
    reading is kept.
    ``precision`` ``"bf16"`` runs the network under bfloat16 autocast (fast on CPUs with AMX), ``"fp32"``
    in full precision; decoding is always float32.
    """

    def __init__(self, model, charset: Charset, device: str = "cpu", beam_width: int = 1,
                 batch_size: int = 32, batch_pixels: int = 12000, max_width: int = 4096, rotate_tall: bool = True,
                 precision: str = "fp32", reread_dense: float = 0.3, reread_stretch: float = 1.3,
                 reread_conf: float = 0.98, beam_above: float = 0.0, beam_below: float = 1.0,
                 beam_prune: float = 1e-4, lm=None, lm_weight: float = 0.0, lm_bonus: float = 0.0,
                 read_inverted: bool = True, pad_tight: bool = True):
        if model.num_classes != len(charset):
            raise ValueError(f"model has {model.num_classes} classes but the charset {len(charset)}")
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        # a torch CRNN, or a backend's network (numpy in, probabilities out: TorchNetwork's interface,
        # named by .backend)
        self.network = model if hasattr(model, "backend") else TorchNetwork(model, device, precision)
        self.model = model
        self.charset, self.beam_width = charset, int(beam_width)
        self.batch_size, self.batch_pixels, self.max_width = int(batch_size), int(batch_pixels), int(max_width)
        self.rotate_tall, self.read_inverted, self.pad_tight = bool(rotate_tall), bool(read_inverted), bool(pad_tight)
        if reread_dense < 0 or reread_stretch < 1:
            raise ValueError(f"reread_dense must be >= 0 and reread_stretch >= 1, got {reread_dense}, {reread_stretch}")
        self.reread_dense, self.reread_stretch = float(reread_dense), float(reread_stretch)
        self.reread_conf = float(reread_conf)
        self.precision = precision
        if lm_weight < 0 or (lm is not None and lm_weight > 0 and beam_width < 2):
            raise ValueError(f"lm_weight must be >= 0, and a language model needs beam_width >= 2, got "
                             f"{lm_weight}, {beam_width}")
        self.beam_above, self.beam_below, self.beam_prune = float(beam_above), float(beam_below), float(beam_prune)
        self.lm = lm if lm_weight > 0 else None
        self.lm_weight, self.lm_bonus = float(lm_weight), float(lm_bonus)
        self._chars = [charset.decode([c]) for c in range(len(charset))]        # the blank decodes to ""
        self.provenance: dict = {}     # what the weight file says of its training (from_file)

    @classmethod
    def from_file(cls, path: str | Path, device: str = "cpu", lm: str | Path | None = None, **kw) -> "Recognizer":
        """The recognizer of weight file ``path``, with the language model file ``lm`` (used when
        ``lm_weight`` > 0)."""
        from recognition import weightfile

        model, charset, prov = weightfile.load(path, device)
        rec = cls(model, charset, device=device, lm=_language_model(lm, kw), **kw)
        rec.provenance = prov
        return rec

    @classmethod
    def from_network(cls, network, lm: str | Path | None = None, **kw) -> "Recognizer":
        """The recognizer of another backend's ``network`` (e.g.
        :class:`pipeline.backends.onnx_runtime.RecognizerNetwork`: ``.charset``, ``.provenance``, called
        as :class:`TorchNetwork` is), with the language model file ``lm`` as in :meth:`from_file`."""
        rec = cls(network, network.charset, lm=_language_model(lm, kw), **kw)
        rec.provenance = network.provenance
        return rec

    def plain(self) -> "Recognizer":
        """This recognizer reading with greedy decoding only: no beam search or language model, no second
        reading of dense crops, no turned, inverted or padded readings (quick evidence; the same network,
        shared)."""
        from copy import copy

        out = copy(self)
        out.beam_width, out.lm, out.reread_stretch = 1, None, 1.0
        out.rotate_tall = out.read_inverted = out.pad_tight = False
        return out

    def __call__(self, crops: list[np.ndarray], pad_tight: bool | None = None) -> list[Recognition]:
        """The reading of each crop. ``pad_tight`` in place of the recognizer's own setting for this call:
        strips a page pipeline cut with margins of its own pass False (neighbouring lines' strokes reach
        their edges, so most would look tight)."""
        pad = self.pad_tight if pad_tight is None else pad_tight
        views = [(i, *v) for i, c in enumerate(crops) for v in self._views(preprocess.to_gray(c), pad)]
        grays = [g for *_, g in views]
        reads = self._read(grays, 1.0)
        if self.reread_stretch > 1.0:
            dense = [k for k, (r, steps) in enumerate(reads)
                     if len(r.text) > self.reread_dense * steps and r.confidence < self.reread_conf]
            for k, again in zip(dense, self._read([grays[k] for k in dense], self.reread_stretch)):
                if again[0].confidence > reads[k][0].confidence:
                    reads[k] = again
        out: list[Recognition | None] = [None] * len(crops)
        for (i, rot, inv, left, v), (r, _) in zip(views, reads):
            r.rotation, r.inverted, r.padded = rot, inv, left > 0
            if left:                                          # back in the crop's own pixels, within it
                r.char_x = [min(max(x - left, 0.0), v.shape[1] - 2.0 * left) for x in r.char_x]
            if out[i] is None or r.confidence > out[i].confidence:
                out[i] = r
        return out  # type: ignore[return-value]

    def _views(self, g: np.ndarray, pad_tight: bool) -> list[tuple[int, bool, int, np.ndarray]]:
        """``(rotation, inverted, columns added at the left, gray view)`` of every way crop ``g`` is read: as
        given; with margins when cut tight; turned both ways when tall; each of those inverted when light on
        dark."""
        turns = [(0, 0, g)]
        if pad_tight and preprocess.cut_tight(g):
            padded, left = preprocess.add_margins(g)
            turns.append((0, left, padded))
        if self.rotate_tall and g.shape[0] >= 2 * g.shape[1]:
            turns += [(90, 0, np.rot90(g, -1)), (270, 0, np.rot90(g, 1))]
        views = [(rot, False, left, v) for rot, left, v in turns]
        if self.read_inverted and preprocess.light_on_dark(g):
            views += [(rot, True, left, 255 - v) for rot, left, v in turns]
        return views

    def _read(self, grays: list[np.ndarray], stretch: float) -> list[tuple[Recognition, int]]:
        """(reading, timesteps) of every gray view, resized to height 32 and ``stretch`` times wider."""
        lines = [preprocess.resize_height(g, self.max_width, stretch) for g in grays]
        out: list = [None] * len(lines)
        for idx in preprocess.width_batches([ln.shape[1] for ln in lines], self.batch_size, self.batch_pixels):
            probs, widths = self._forward([lines[k] for k in idx])
            for j, k in enumerate(idx):
                steps = timesteps(widths[j])
                r = self._decode(probs[:steps, j], grays[k].shape[1] / lines[k].shape[1])
                r.stretch = stretch
                out[k] = (r, steps)
        return out

    def _forward(self, lines: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        x, widths = preprocess.batch_array(lines)
        return self.network(x, widths), widths.tolist()                 # T,B,C probabilities

    def _decode(self, probs: np.ndarray, scale: float) -> Recognition:
        d = decoding.greedy(probs, self.charset.blank)
        if self.beam_width > 1 and self.beam_above <= d.confidence < self.beam_below:
            d = decoding.beam_search(probs, self.beam_width, self.charset.blank, self.beam_prune, lm=self.lm,
                                     chars=self._chars, lm_weight=self.lm_weight, lm_bonus=self.lm_bonus)
        xs = [float(step_x(t)) * scale for t in d.steps]
        return Recognition(self.charset.decode(d.ids), d.confidence, d.confs, xs)
