"""Page orientation: which quarter turn (0, 90, 180, 270) and which skew make a page upright, decided from
the models' own evidence.

Angles are degrees counter-clockwise as the page is seen (image y runs down), as in :mod:`pipeline.geometry`:
``angle`` 90 means the text runs up the page and the page is read turned 90 degrees clockwise.

How ``auto`` decides (:func:`decide`):

1. Skew per axis: the ink projection (:func:`pipeline.geometry.estimate_skew`, up to ``max_skew``) gives the
   skew of the page as given (axis 0) and of the page turned by 90 degrees (axis 90). It only measures
   how the lines lean; it never chooses the axis.
2. For an axis, the detector finds the text lines of the page turned upright on that axis, and the
   recognizer (greedy decoding) reads a window of the ``probe_lines`` longest of them both ways round: as
   found (quarter ``axis``) and turned 180 degrees (quarter ``axis + 180``). Only windows in which either
   reading has at least ``probe_letters`` letters count (rows of asterisks, leaders and the rules of form
   fields read badly every way and say nothing; they are often a form's longest lines, so the next
   ``probe_lines`` longest are read, twice at most, until half that many count); a candidate's score is
   the mean confidence of its readings of them. The detector
   alone does not tell: it fires on text that runs up the page too (on the phone photos it found as many
   fine proposals on pages turned 90 degrees as on upright ones), but the recognizer reads such lines as
   low-confidence garbage.
3. Within an axis, the turned reading wins when the median window gains confidence by turning (more than
   ``flip_margin``; paired, so one or two odd lines cannot outvote the rest), its mean score is higher as
   well (on the dev photos the median alone turned an upright photo that read 0.736 as given and 0.710
   turned), and it scores at least ``turn_min_score``. To turn the page as given upside down, the mean
   must be higher by more than ``flip_score_margin``: two upright pages were turned on thin evidence (the
   form of ``samples/form.jpg`` as OCRmyPDF renders it, 0.605 as given against 0.637, where the int8
   recognizer saw letters in rows of asterisks; a phone photo, 0.695 against 0.719).
4. Axis 0 is probed first. When its better reading scores at least ``probe_skip``, the page reads well on
   its own axis and axis 90 is not probed (most pages). The lines of the decided axis are the page's
   lines, so an upright page costs only the ``2 x probe_lines`` window readings over a plain read.
5. A quarter turn (axis 90) wins only when its better reading scores at least ``turn_min_score`` and beats
   the better reading of axis 0 by ``turn_margin``: otherwise the page stays on its own axis, since
   turning a page sideways is the costly mistake. Ink projection never decides alone.

:attr:`Orientation.confidence` is the winner's score minus the best other candidate's score (0..1; 0 when
the page stayed as given for want of evidence), None when the orientation was given, not decided.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline import crop, geometry

__all__ = ["MODES", "Orientation", "decide", "probe"]

MODES = ("auto", "none", "0", "90", "180", "270")


@dataclass
class Orientation:
    """What was decided for a page: ``angle`` = ``quarter`` + ``skew`` (degrees counter-clockwise), and
    ``confidence`` (None when given); ``scores`` maps each candidate quarter that was read to its score."""
    quarter: int
    skew: float
    confidence: float | None
    scores: dict[int, float] = field(default_factory=dict)

    @property
    def angle(self) -> float:
        return round((self.quarter + self.skew + 180.0) % 360.0 - 180.0, 2)


def _skew(pts: np.ndarray, axis: int, cfg) -> float:
    """Skew of the ink points ``pts`` (page pixels) seen on ``axis`` (0 or 90), 0 unless ``cfg.deskew``."""
    if not cfg.deskew or pts is None:
        return 0.0
    if axis % 180:
        pts = np.stack([-pts[:, 1], pts[:, 0]], 1)               # the ink turned with the page (x' = H-1-y, y' = x)
    s = geometry.estimate_skew(None, max_angle=cfg.max_skew, pts=pts)
    return s if abs(s) >= cfg.min_skew else 0.0


def probe(detector, recognizer, rgb: np.ndarray, gray: np.ndarray, angle: float,
          cfg) -> tuple[list, np.ndarray, np.ndarray]:
    """``(quads, as_found, turned)``: the text lines the detector finds on the page turned upright by
    ``angle`` (quads in the page's pixels), and the confidences of the windows of the longest of them that
    count (see the module docstring), read as found and turned 180 degrees (empty without lines)."""
    up = geometry.upright(rgb, angle)
    quads = [up.points_to_page(d.quad) for d in detector(up.image)]
    if not quads or recognizer is None:
        return quads, np.zeros(0), np.zeros(0)
    frames = [crop.line_frame(q) for q in quads]
    order = sorted(range(len(quads)), key=lambda i: -frames[i][2] / frames[i][3])      # longest first
    letters = lambda r: sum(ch.isalpha() for ch in r.text)
    counted, first, n = [], None, cfg.probe_lines
    for start in range(0, min(len(order), 3 * n), n):   # until half of them count (rules, leaders do not)
        strips = crop.crop_lines(gray, [quads[i] for i in order[start:start + n]])
        wins = [st.image[:, :cfg.probe_window] for st in strips]
        reads = recognizer(wins + [np.ascontiguousarray(x[::-1, ::-1]) for x in wins])
        pairs = list(zip(reads[:len(wins)], reads[len(wins):]))
        first = first or pairs
        counted += [(a.confidence, b.confidence) for a, b in pairs if max(letters(a), letters(b)) >= cfg.probe_letters]
        if len(counted) >= n // 2:
            break
    counted = counted or [(a.confidence, b.confidence) for a, b in first]   # no window with letters: the first
    found, turned = np.array(counted, np.float64).reshape(-1, 2).T
    return quads, found, turned


def _axis(found: np.ndarray, turned: np.ndarray, cfg, margin: float = 0.0) -> tuple[bool, float, float]:
    """``(flip, as_found, turned)`` of one axis: the mean scores of its two readings, and whether the
    turned one wins: the median window gains by turning (paired, so that one or two odd lines cannot outvote
    the rest), its mean score is higher too, by more than ``margin``, and it scores at least
    ``turn_min_score``."""
    if not len(found):
        return False, float("nan"), float("nan")
    a, b = float(found.mean()), float(turned.mean())
    return bool(np.median(turned - found) > cfg.flip_margin and b > a + margin and b >= cfg.turn_min_score), a, b


def decide(detector, recognizer, rgb: np.ndarray, gray: np.ndarray, cfg) -> tuple[Orientation, list]:
    """``(orientation, quads)`` of a page (RGB and gray arrays of it) under ``cfg``
    (:class:`pipeline.config.PageConfig`; ``cfg.orientation`` is one of :data:`MODES`): the
    :class:`Orientation` and the text lines found on the page turned upright by it, as quads in the page's
    own pixels, clockwise from the top-left corner as the line reads. ``recognizer`` None: no evidence to
    weigh, so ``auto`` keeps the page as given."""
    mode = cfg.orientation                           # one of MODES (PageConfig checks it)
    pts = geometry.ink_points(gray) if cfg.deskew else None
    if mode != "auto" or recognizer is None:
        quarter = 0 if mode in ("auto", "none") else int(mode)
        o = Orientation(quarter, _skew(pts, quarter, cfg), 0.0 if mode == "auto" else None)
        return o, probe(detector, None, rgb, gray, o.angle, cfg)[0]
    scores, skews, lines, pick = {}, {}, {}, {}
    for axis in (0, 90):
        skews[axis] = _skew(pts, axis, cfg)
        lines[axis], found, turned = probe(detector, recognizer, rgb, gray, axis + skews[axis], cfg)
        flip, scores[axis], scores[axis + 180] = _axis(found, turned, cfg, cfg.flip_score_margin if axis == 0 else 0.0)
        pick[axis] = axis + 180 if flip else axis
        if axis == 0 and np.nanmax([scores[0], scores[180], -1.0]) >= cfg.probe_skip:
            break                                    # reads well on its own axis: not probed turned 90
    best = pick[0]
    if 90 in pick:                                   # a quarter turn must clearly beat the page's own axis
        own, other = np.nan_to_num(scores[pick[0]]), scores[pick[90]]
        if other >= cfg.turn_min_score and other - own > cfg.turn_margin:
            best = pick[90]
    read = {q: v for q, v in scores.items() if v == v}                  # nan: no lines found that way
    others = [v for q, v in read.items() if q != best]
    conf = float(np.clip(read.get(best, 0.0) - max(others, default=0.0), 0.0, 1.0))
    quads = lines[best % 180]
    if best >= 180:                                  # the same lines read the other way round
        quads = [q[[2, 3, 0, 1]] for q in quads]
    return Orientation(best, skews[best % 180], conf, scores), quads
