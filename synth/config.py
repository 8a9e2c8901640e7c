"""Settings of the synthetic generator (``configs/synth/default.yaml``), as frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import configs

__all__ = ["SynthConfig", "PageConfig", "LineConfig", "load"]


@dataclass(frozen=True)
class PageConfig:
    dpi: tuple[int, int] = (100, 200)           # page resolution drawn uniformly in this range
    dpi_high: float = 0.1                       # share of pages rendered at 300 dpi (600-dpi-like detail)
    layouts: dict[str, float] = field(default_factory=lambda: {
        "letter": 1.0, "columns": 1.0, "form": 1.0, "table": 1.0, "receipt": 1.2, "invoice": 1.0,
        "mixed_sizes": 0.6, "sparse": 0.4})
    profiles: dict[str, float] = field(default_factory=lambda: {
        "clean": 0.8, "scan": 1.5, "fax": 1.0, "photocopy": 0.7, "photo": 1.0, "thermal": 0.5})
    skew_deg: float = 5.0                       # page rotation drawn in [-skew_deg, skew_deg]
    perspective: float = 0.03                   # corner displacement, fraction of the page size
    perspective_share: float = 0.35             # share of pages that get perspective, not only skew
    handwriting: float = 0.3                    # share of pages with pen marks over the text
    photo_scene: float = 1.0                    # share of "photo" pages shot as a phone photo: on a textured
                                                # background (wood, cloth, desk, dark), tilted up to
    photo_skew_deg: float = 30.0                # ... this many degrees, with a camera keystone of up to
    photo_keystone: float = 0.25                # ... this share of the far edge (about 25 degrees of tilt)
    photo_small: float = 0.2                    # share of those shrunk whole to a long side of 400-800 px

    def __post_init__(self):
        if not 0 <= self.skew_deg <= 45:
            raise ValueError(f"skew_deg must be within [0, 45], got {self.skew_deg}")
        if not 0 <= self.photo_skew_deg <= 45 or not 0 <= self.photo_keystone < 0.9:
            raise ValueError(f"photo_skew_deg must be within [0, 45] and photo_keystone within [0, 0.9), got "
                             f"{self.photo_skew_deg}, {self.photo_keystone}")
        if self.dpi[0] > self.dpi[1] or self.dpi[0] < 50:
            raise ValueError(f"dpi must be an increasing pair >= 50, got {list(self.dpi)}")


@dataclass(frozen=True)
class LineConfig:
    height: tuple[int, int] = (10, 44)          # font size in pixels
    margin_y: tuple[float, float] = (0.05, 0.4)  # crop margin above/below, in text heights
    margin_x: tuple[float, float] = (0.0, 1.0)   # crop margin left/right, in text heights
    max_chars: int = 60
    rotate_deg: float = 1.0                     # residual rotation of a crop
    neighbours: float = 0.3                     # share with cut-off ink of the lines above/below
    rules: float = 0.15                         # share with a table rule or underline near the text
    min_contrast: float = 0.5                   # redraw degradations scoring below (synth.degrade.ink_contrast)
    profiles: dict[str, float] = field(default_factory=lambda: {
        "clean": 1.0, "scan": 1.5, "fax": 1.0, "photocopy": 0.7, "photo": 0.8, "thermal": 0.5})
    rare: float | None = None                   # zh: share of lines of uniformly drawn hanzi (synth.zh);
                                                # None: the source's own mix


@dataclass(frozen=True)
class SynthConfig:
    lang: str = "en"                            # text and fonts: en (synth.text) or zh (synth.zh)
    charset: str = "charsets/default.txt"
    page: PageConfig = PageConfig()
    line: LineConfig = LineConfig()


def load(file: str | Path | None = None) -> SynthConfig:
    return configs.load(file or configs.path("synth/default.yaml"), SynthConfig)
