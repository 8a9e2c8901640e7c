"""Detector predictor: a page image in, text lines (quads in the image's own pixels) out.

pre-processing (estimate the text height, pick the working scale, resize to multiples of the stride,
normalise) -> :class:`detection.ctpn.CTPN` -> proposals (scores, decoded vertical boxes, side offsets;
:mod:`detection.box_coder`) -> :func:`detection.textlines.build_lines` at the working scale -> quads
mapped back to the input's pixels.

Working scale. Real pages run from 100-dpi faxes to 600-dpi scans and phone photos; the anchors cover
text 11-283 px tall, but the detector is trained and fast at one typical height. :func:`estimate_line_height`
measures the median height of ink components (adaptive threshold, connected components on a copy at most
1600 px long) and divides by ``cc_to_line`` (measured: median component / median line height is 0.57 on
FUNSD pages and 0.73 on SROIE). The page is scaled so that height becomes ``line_height``, then capped so
its long side is at most ``max_side``. Pages with too little ink to measure keep ``fallback_side``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from detection import anchors as anchors_mod
from detection import box_coder
from detection.textlines import TextLine, TextLineConfig, build_lines

__all__ = ["DetectorConfig", "DetectedLine", "Detector", "TorchNetwork", "estimate_line_height", "working_size",
           "to_array", "to_tensor"]

MEAN, STD = 0.5, 0.25


@dataclass(frozen=True)
class DetectorConfig:
    line_height: float = 18.0      # text-line height (pixels) at the working scale
    cc_to_line: float = 0.65       # median ink-component height / line height
    max_side: int = 2048           # cap on the working image's long side (speed, memory)
    fallback_side: int = 1280      # long side when the text height cannot be measured
    max_upscale: float = 3.0
    lines: TextLineConfig = field(default_factory=TextLineConfig)


@dataclass
class DetectedLine:
    quad: np.ndarray               # 4,2 clockwise from top-left, input pixels
    score: float

    @property
    def box(self) -> np.ndarray:
        return np.concatenate([self.quad.min(0), self.quad.max(0)])


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def estimate_line_height(image: np.ndarray, cc_to_line: float = 0.65, analysis_side: int = 1600) -> float | None:
    """Typical text-line height of a page in its own pixels, or None when it has too little text-like ink."""
    g = _gray(image)
    h, w = g.shape
    s = min(1.0, analysis_side / max(h, w))
    if s < 1:
        g = cv2.resize(g, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    block = max(15, int(min(g.shape) / 20) | 1)
    ink = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 12)
    _, _, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    hh, ww, area = st[1:, 3], st[1:, 2], st[1:, 4]
    ok = (hh >= 4) & (hh <= 0.1 * g.shape[0]) & (ww <= 3 * hh) & (area >= 0.15 * hh * ww) & (area >= 6)
    if ok.sum() < 10:
        return None
    return float(np.median(hh[ok])) / s / cc_to_line


def working_size(h: int, w: int, line_h: float | None, cfg: DetectorConfig, stride: int = 16) -> tuple[int, int]:
    """``(H', W')`` of the working image: multiples of ``stride``, scaled for ``line_h``, long side capped."""
    s = cfg.fallback_side / max(h, w) if not line_h else cfg.line_height / line_h
    s = min(s, cfg.max_upscale, cfg.max_side / max(h, w))
    snap = lambda v: max(stride, int(np.floor(v * s / stride + 0.5)) * stride)  # nearest multiple, halves up
    return snap(h), snap(w)


def to_array(image: np.ndarray) -> np.ndarray:
    """``1,3,H,W`` float32 array of an RGB (or gray) uint8 image, normalised as in training."""
    rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return ((rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0) - np.float32(MEAN)) / np.float32(STD))[None]


def to_tensor(image: np.ndarray):
    """:func:`to_array` as a torch tensor (training)."""
    import torch

    return torch.from_numpy(to_array(image))


class TorchNetwork:
    """A :class:`CTPN` run by torch, as the predictor calls every backend's network: ``x`` ``(1, 3, H, W)``
    float32 numpy (:func:`to_array`) -> numpy maps on the stride-16 grid: ``prob`` ``(1, h, w, A)`` (text
    probability per anchor), ``vert`` ``(1, h, w, A, 2)``, ``side`` ``(1, h, w, A)``. ``precision``
    ``"bf16"``: under bfloat16 autocast (fast on CPUs with AMX). torch is imported here, not with the module:
    a page read with another backend needs no torch installed."""

    backend = "torch"

    def __init__(self, model, device: str = "cpu", precision: str = "fp32"):
        import torch

        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.device = torch.device(device)
        self.model, self.precision, self.stride = model.to(self.device).eval(), precision, model.stride

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
                out = self.model(torch.from_numpy(x).to(self.device))
            return {"prob": torch.softmax(out["scores"].float(), dim=-1)[..., 1].cpu().numpy(),
                    "vert": out["vert"].float().cpu().numpy(), "side": out["side"].float().cpu().numpy()}


class Detector:
    """``Detector(model)(image)`` -> :class:`DetectedLine` list, top to bottom."""

    def __init__(self, model, cfg: DetectorConfig = DetectorConfig(), device: str = "cpu",
                 heights=anchors_mod.HEIGHTS, anchor_width: float = anchors_mod.WIDTH, precision: str = "fp32"):
        # a torch CTPN, or a backend's network (numpy in, maps out: TorchNetwork's interface, named by .backend)
        self.network = model if hasattr(model, "backend") else TorchNetwork(model, device, precision)
        self.model, self.precision = model, precision
        self.cfg = cfg
        self.heights, self.anchor_width = tuple(heights), float(anchor_width)
        self.provenance: dict = {}

    @classmethod
    def from_file(cls, path: str | Path, cfg: DetectorConfig = DetectorConfig(), device: str = "cpu",
                  precision: str = "fp32") -> "Detector":
        from detection import weightfile

        from detection.backbone import fuse_batch_norm

        model, anc, prov = weightfile.load(path, device)
        model.eval()
        model.backbone.features = fuse_batch_norm(model.backbone.features)   # a private copy: inference only
        det = cls(model, cfg, device, anc["heights"], anc["width"], precision)
        det.provenance = prov
        return det

    @classmethod
    def from_network(cls, network, cfg: DetectorConfig = DetectorConfig()) -> "Detector":
        """The detector of another backend's ``network`` (e.g.
        :class:`pipeline.backends.onnx_runtime.DetectorNetwork`: ``.anchors``, ``.stride``, ``.provenance``,
        called as :class:`TorchNetwork` is)."""
        det = cls(network, cfg, heights=network.anchors["heights"], anchor_width=network.anchors["width"])
        det.provenance = network.provenance
        return det

    def proposals(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
        """Fine proposals at the working scale: boxes ``(N, 4)``, text scores ``(N,)``, side offsets
        ``(N,)`` for those scoring at least ``lines.score_thresh``, and the scale ``(sx, sy)`` used."""
        h, w = image.shape[:2]
        stride = self.network.stride
        hh, ww = working_size(h, w, estimate_line_height(image, self.cfg.cc_to_line), self.cfg, stride)
        work = cv2.resize(image, (ww, hh), interpolation=cv2.INTER_AREA if ww < w else cv2.INTER_LINEAR)
        out = self.network(to_array(work))
        fh, fw = out["side"].shape[1:3]
        a = len(self.heights)
        prob = out["prob"][0].reshape(-1)                                                  # H*W*A
        keep = np.nonzero(prob >= self.cfg.lines.score_thresh)[0]
        grid = anchors_mod.grid(fh, fw, stride, stride / 2, self.heights, self.anchor_width)
        vert = out["vert"][0].reshape(fh * fw * a, 2)[keep]
        side = out["side"][0].reshape(-1)[keep]
        boxes = box_coder.decode(vert, grid[keep])
        return boxes, prob[keep], side, (ww / w, hh / h)

    def run(self, image: np.ndarray) -> tuple[list[DetectedLine], np.ndarray, np.ndarray]:
        """Lines, and the proposals they were built from (boxes in input pixels, scores), for drawing."""
        boxes, scores, side, (sx, sy) = self.proposals(image)
        lines: list[TextLine] = build_lines(boxes, scores, side, self.cfg.lines)
        h, w = image.shape[:2]
        out = []
        for ln in lines:
            q = ln.quad / np.array([sx, sy])
            q[:, 0], q[:, 1] = q[:, 0].clip(0, w), q[:, 1].clip(0, h)
            if np.ptp(q[:, 0]) < 1 or np.ptp(q[:, 1]) < 1:
                continue                     # it lies outside the image (a chain in the edge's padding): no text
            out.append(DetectedLine(q, ln.score))
        return out, boxes / np.array([sx, sy, sx, sy]), scores

    def __call__(self, image: np.ndarray) -> list[DetectedLine]:
        return self.run(image)[0]
