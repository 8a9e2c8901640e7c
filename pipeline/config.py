"""Pipeline settings (``configs/default.yaml``) as frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import configs
from detection.predictor import DetectorConfig
from pipeline.crop import CropConfig
from pipeline.layout import LayoutConfig

__all__ = ["PipelineConfig", "RuntimeConfig", "PageConfig", "RecognizerConfig", "DetectorConfig", "CropConfig", "LayoutConfig", "load"]


@dataclass(frozen=True)
class RecognizerConfig:
    beam_width: int = 1
    batch_size: int = 32
    batch_pixels: int = 12000
    max_width: int = 4096
    rotate_tall: bool = True
    reread_dense: float = 0.3
    reread_stretch: float = 1.3
    reread_conf: float = 0.98
    beam_above: float = 0.0
    beam_below: float = 1.0
    beam_prune: float = 1e-4
    lm_weight: float = 0.0
    lm_bonus: float = 0.0

    def __post_init__(self):
        if self.beam_width < 1 or self.batch_size < 1 or self.batch_pixels < 32 or self.max_width < 8:
            raise ValueError("beam_width and batch_size must be >= 1, batch_pixels >= 32, max_width >= 8")
        if self.reread_dense < 0 or self.reread_stretch < 1:
            raise ValueError("reread_dense must be >= 0 and reread_stretch >= 1")
        if self.lm_weight < 0 or (self.lm_weight > 0 and self.beam_width < 2):
            raise ValueError("lm_weight must be >= 0, and a language model (lm_weight > 0) needs beam_width >= 2")


@dataclass(frozen=True)
class PageConfig:
    deskew: bool = True          # measure the page's skew and read it straightened
    orient: bool = True          # turn sideways and upside-down pages upright
    min_skew: float = 0.2        # skews below this many degrees are left alone (no resampling)
    flip_lines: int = 8          # longest lines read both ways to tell upside down from upright
    flip_letters: int = 3        # ... of those with at least this many letters upright in the window
    flip_window: int = 320       # ... of their first this-many strip pixels
    flip_margin: float = 0.0     # confidence the median line's turned reading must win by
    flip_skip: float = 0.94      # ... unless the upright readings' mean confidence is already this high


@dataclass(frozen=True)
class RuntimeConfig:
    precision: str = "auto"      # auto | fp32 | bf16: network arithmetic (auto = bf16 on CPUs with AMX)

    def __post_init__(self):
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")


@dataclass(frozen=True)
class PipelineConfig:
    runtime: RuntimeConfig = RuntimeConfig()
    page: PageConfig = PageConfig()
    recognizer: RecognizerConfig = RecognizerConfig()
    detector: DetectorConfig = DetectorConfig()
    crop: CropConfig = CropConfig()
    layout: LayoutConfig = LayoutConfig()


def load(file: str | Path | None = None) -> PipelineConfig:
    return configs.load(file or configs.path("default.yaml"), PipelineConfig)
