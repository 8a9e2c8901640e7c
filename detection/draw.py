"""Debug drawing: fine proposals and text lines over the page (``python -m pipeline.detect PAGE --draw out.png``)."""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["draw_detections"]


def draw_detections(image: np.ndarray, lines: list, proposals: np.ndarray | None = None,
                    scores: np.ndarray | None = None) -> np.ndarray:
    """RGB copy of ``image`` with ``proposals`` (``(N, 4)`` boxes in image pixels) as thin boxes shaded
    from yellow (score at the threshold) to red (score 1) and ``lines`` (objects with ``.quad`` and
    ``.score``) as green quads labelled with their score."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    t = max(1, round(max(out.shape[:2]) / 1500))
    if proposals is not None and len(proposals):
        s = np.ones(len(proposals)) if scores is None else np.asarray(scores, float)
        lo = float(s.min()) if len(s) else 0.0
        for b, v in zip(np.asarray(proposals, float), s):
            k = 0.0 if s.max() == lo else (v - lo) / (s.max() - lo)
            color = (255, int(220 * (1 - k)), 0)
            cv2.rectangle(out, (int(b[0]), int(b[1])), (int(b[2]) - 1, int(b[3]) - 1), color, 1)
    for ln in lines:
        q = np.round(np.asarray(ln.quad, float)).astype(np.int32)
        cv2.polylines(out, [q], True, (0, 170, 0), 2 * t, cv2.LINE_AA)
        cv2.putText(out, f"{ln.score:.2f}", (int(q[0, 0]), max(10, int(q[0, 1]) - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * t, (0, 120, 0), t, cv2.LINE_AA)
    return out
