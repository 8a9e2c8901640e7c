"""--lang auto: which recognizer reads a page (pipeline.language), with a stand-in zh recognizer."""
import numpy as np
import pytest

from pipeline.language import LanguageConfig, MostConfident, choose, han_share, sample
from recognition.predictor import Recognition


class Reader:
    """A recognizer that reads every crop as ``text`` at ``conf`` and records the widths it was given."""

    def __init__(self, text: str, conf: float = 0.8):
        self.text, self.conf, self.seen = text, conf, []

    def plain(self):
        return self

    def __call__(self, crops):
        self.seen.append([c.shape[1] for c in crops])
        return [Recognition(self.text, self.conf, [self.conf] * len(self.text), [0.0] * len(self.text))
                for _ in crops]


def _strips(*widths, h=32):
    return [np.zeros((h, w), np.uint8) for w in widths]


def test_han_share_counts_hanzi_among_the_non_space_characters():
    assert han_share("发票 号码") == 1.0
    assert han_share("No. 123") == 0.0
    assert han_share("合计 12.5元") == pytest.approx(3 / 7)   # 合 计 元 of 合计12.5元
    assert han_share("   ") == 0.0
    assert han_share("来来来来4943") == 0.0 and han_share("来来4943") == pytest.approx(2 / 6)   # ****4943 read as 来
    assert han_share("谢谢惠顾") == 1.0


def test_a_page_whose_zh_reading_is_mostly_hanzi_is_chinese():
    c = choose(Reader("发票号码：0546", 0.7), _strips(100, 300, 200))
    assert (c.lang, c.han, len(c.reads)) == ("zh", pytest.approx(4 / 9), 3) and c.confidence == pytest.approx(0.7)
    # hanzi read unsurely (noise on an English page, read by zh) do not count
    assert choose(Reader("发票号码：0546", 0.4), _strips(100)).lang == "en"
    assert han_share("发票 ab", [0.9, 0.3, 0.0, 0.9, 0.9], 0.5) == pytest.approx(1 / 4)
    # a receipt line that is mostly prices is Chinese by the page's share of hanzi
    assert choose(Reader("合计 12.50"), _strips(300)).lang == "zh"            # 2 of 7
    assert choose(Reader("合计 12.50"), _strips(300), LanguageConfig(min_han=0.3)).lang == "en"


def test_latin_read_by_zh_stays_english_however_sure():
    assert choose(Reader("Invoice 2024-118", 0.99), _strips(300)).lang == "en"


def test_the_sample_is_the_widest_lines_cut_to_the_window_and_no_lines_is_english():
    zh = Reader("中")
    choose(zh, _strips(50, 400, 90, 300, 700), LanguageConfig(sample_lines=3, window=320))
    assert zh.seen == [[320, 300, 320]]                   # the 3 widest, in page order, cut to 320 px
    tall = sample(_strips(2000, 100, h=64), LanguageConfig(sample_lines=1, window=320))
    assert [s.shape for s in tall] == [(64, 640)]        # the window scales with a crop's height
    assert choose(zh, []).lang == "en" and len(zh.seen) == 1
    with pytest.raises(ValueError, match="sample_lines"):
        LanguageConfig(sample_lines=0)


class ByWidth(Reader):
    """Reads a crop as ``text`` at a confidence that depends on its width: ``conf[width]``."""

    def __init__(self, text: str, conf: dict):
        super().__init__(text)
        self.by_width = conf

    def __call__(self, crops):
        return [Recognition(self.text, self.by_width[c.shape[1]], [], []) for c in crops]


def test_the_orientation_reader_of_auto_takes_each_crops_most_confident_reading():
    en, zh = ByWidth("abc", {10: 0.9, 20: 0.3, 30: 0.5}), ByWidth("中文", {10: 0.2, 20: 0.8, 30: 0.5})
    reads = MostConfident([en, zh])(iter(_strips(10, 20, 30)))         # any iterable of crops, read once
    assert [(r.text, r.confidence) for r in reads] == [("abc", 0.9), ("中文", 0.8), ("abc", 0.5)]
    assert MostConfident([en, zh])([]) == []
