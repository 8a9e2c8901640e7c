"""Synthetic training data that looks like real scans: text lines for the recognizer, pages for the detector.

``LineGenerator(seed).line(i)`` and ``PageGenerator(seed=...).page(i)`` are deterministic per seed and
index; ``synth.pageset`` reads and writes page-set folders (the format of ``shared/data/real``).
"""
from synth.config import LineConfig, PageConfig, SynthConfig
from synth.lines import LineGenerator, LineSample
from synth.pages import LAYOUTS, PageGenerator, PageSample

__all__ = ["LineGenerator", "LineSample", "PageGenerator", "PageSample", "LAYOUTS", "SynthConfig",
           "LineConfig", "PageConfig"]
