"""CTPN loss: cross-entropy on sampled anchors + 1.0 x smooth-L1 (vertical) + 2.0 x smooth-L1 (side).

Shapes: ``B`` images, ``M = H*W*A`` anchors. Targets come from :func:`detection.targets.assign` (labels
already thinned by :func:`detection.targets.sample`): ``gt_labels B,M`` (1 text, 0 background, -1 not
scored), ``gt_vert B,M,2``, ``gt_side B,M``, ``gt_side_mask B,M``. Each term is a mean over the anchors it
covers (sampled, positive, side-marked); a term with no anchors is 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ctpn_loss"]


def ctpn_loss(out: dict[str, torch.Tensor], gt_labels: torch.Tensor, gt_vert: torch.Tensor, gt_side: torch.Tensor,
              gt_side_mask: torch.Tensor, vert_weight: float = 1.0, side_weight: float = 2.0) -> tuple[torch.Tensor, dict]:
    b = gt_labels.shape[0]
    scores = out["scores"].reshape(b, -1, 2).float()                          # B,M,2
    vert = out["vert"].reshape(b, -1, 2).float()                              # B,M,2
    side = out["side"].reshape(b, -1).float()                                 # B,M
    scored = gt_labels >= 0
    zero = scores.sum() * 0.0
    cls = F.cross_entropy(scores[scored], gt_labels[scored].long()) if scored.any() else zero
    pos = gt_labels == 1
    v = F.smooth_l1_loss(vert[pos], gt_vert[pos].float()) if pos.any() else zero
    s = F.smooth_l1_loss(side[gt_side_mask], gt_side[gt_side_mask].float()) if gt_side_mask.any() else zero
    total = cls + vert_weight * v + side_weight * s
    return total, {"cls": float(cls.detach()), "vert": float(v.detach()), "side": float(s.detach())}
