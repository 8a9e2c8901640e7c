"""Pipeline settings (``configs/default.yaml``) as frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import configs
import recognition
from detection.predictor import DetectorConfig
from pipeline.crop import CropConfig
from pipeline.language import LanguageConfig
from pipeline.layout import LayoutConfig

__all__ = ["LANG_MODES", "LanguageConfig", "PipelineConfig", "RuntimeConfig", "PageConfig", "RecognizerConfig", "DetectorConfig", "CropConfig", "LayoutConfig", "load"]


LANG_MODES = (*recognition.LANGS, "auto")     # recognizer.lang, --lang


@dataclass(frozen=True)
class RecognizerConfig:
    lang: str = "en"             # which shipped recognizer reads the lines: en (Latin script), zh (Simplified
                                 # Chinese + English) or auto (per page, pipeline.language); not a Recognizer
                                 # argument (pipeline.load picks the file)
    beam_width: int = 1
    batch_size: int = 32
    batch_pixels: int = 12000
    max_width: int = 4096
    rotate_tall: bool = True
    read_inverted: bool = True
    pad_tight: bool = True
    reread_dense: float = 0.3
    reread_stretch: float = 1.3
    reread_conf: float = 0.98
    beam_above: float = 0.0
    beam_below: float = 1.0
    beam_prune: float = 1e-4
    lm_weight: float = 0.0
    lm_bonus: float = 0.0

    def __post_init__(self):
        if self.lang not in LANG_MODES:
            raise ValueError(f"recognizer.lang must be one of {', '.join(LANG_MODES)}, got {self.lang!r}")
        if self.beam_width < 1 or self.batch_size < 1 or self.batch_pixels < 32 or self.max_width < 8:
            raise ValueError("beam_width and batch_size must be >= 1, batch_pixels >= 32, max_width >= 8")
        if self.reread_dense < 0 or self.reread_stretch < 1:
            raise ValueError("reread_dense must be >= 0 and reread_stretch >= 1")
        if self.lm_weight < 0 or (self.lm_weight > 0 and self.beam_width < 2):
            raise ValueError("lm_weight must be >= 0, and a language model (lm_weight > 0) needs beam_width >= 2")


@dataclass(frozen=True)
class PageConfig:
    """Page geometry before detection (:mod:`pipeline.orientation`, :mod:`pipeline.geometry`)."""
    orientation: str | int = "auto"  # auto | none | 0 | 90 | 180 | 270 (none: as given; a number: that quarter turn)
    deskew: bool = True          # measure the page's skew and read it straightened
    max_skew: float = 30.0       # skews searched, +- degrees
    min_skew: float = 0.2        # skews below this many degrees are left alone (no resampling)
    probe_lines: int = 8         # auto: the recognizer reads windows of its this-many longest lines ...
    probe_window: int = 320      # ... this many strip pixels long ...
    probe_letters: int = 3       # ... counting those with at least this many letters either way round
    probe_skip: float = 0.9      # the page as given reads this confidently: the turned axis is not probed
    flip_margin: float = 0.0     # turned 180: the median window's confidence gain must exceed this
    flip_score_margin: float = 0.05   # the page as given turned 180: its mean score must gain more than this
    turn_margin: float = 0.1     # a quarter turn must read this much more confidently than the own axis ...
    turn_min_score: float = 0.5  # ... and at least this confidently

    def __post_init__(self):
        from pipeline.orientation import MODES

        if str(self.orientation) not in MODES:
            raise ValueError(f"orientation must be one of {', '.join(MODES)}; got {self.orientation!r}")
        object.__setattr__(self, "orientation", str(self.orientation))
        if not 0 <= self.max_skew <= 45:
            raise ValueError(f"max_skew must be within 0 and 45 degrees, got {self.max_skew}")


@dataclass(frozen=True)
class RuntimeConfig:
    precision: str = "auto"      # auto | fp32 | bf16 | int8: network arithmetic (pipeline.load: auto = bf16
                                 # with torch on CPUs with AMX, int8 with onnx where an int8 file ships)
    backend: str = "auto"        # auto | torch | onnx: what runs the networks (pipeline/backends)

    def __post_init__(self):
        from pipeline.backends import BACKENDS

        if self.precision not in ("auto", "fp32", "bf16", "int8"):
            raise ValueError(f"precision must be auto, fp32, bf16 or int8, got {self.precision!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")


@dataclass(frozen=True)
class PipelineConfig:
    runtime: RuntimeConfig = RuntimeConfig()
    page: PageConfig = PageConfig()
    recognizer: RecognizerConfig = RecognizerConfig()
    language: LanguageConfig = LanguageConfig()
    detector: DetectorConfig = DetectorConfig()
    crop: CropConfig = CropConfig()
    layout: LayoutConfig = LayoutConfig()


def load(file: str | Path | None = None) -> PipelineConfig:
    """The shipped settings (``configs/default.yaml``), with those of ``file``, when given, laid over them key by
    key: a file needs only the settings it changes."""
    shipped = configs.path("default.yaml")
    return configs.load(file, PipelineConfig, base=shipped) if file else configs.load(shipped, PipelineConfig)
