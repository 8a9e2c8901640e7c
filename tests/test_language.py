"""--lang auto: which recognizer reads a page (pipeline.language), with stand-in recognizers."""
import numpy as np
import pytest

from pipeline.language import LanguageConfig, choose, han_share
from recognition.predictor import Recognition


class Reader:
    """A recognizer that reads every crop as ``text`` at ``conf`` and records what it was given."""

    def __init__(self, text: str, conf: float):
        self.text, self.conf, self.seen = text, conf, []

    def plain(self):
        return self

    def __call__(self, crops):
        self.seen.append([c.shape[1] for c in crops])
        return [Recognition(self.text, self.conf, [self.conf] * len(self.text), [0.0] * len(self.text))
                for _ in crops]


def _strips(*widths):
    return [np.zeros((32, w), np.uint8) for w in widths]


def test_han_share_counts_hanzi_among_the_non_space_characters():
    assert han_share("发票 号码") == 1.0
    assert han_share("No. 123") == 0.0
    assert han_share("合计 12.5元") == pytest.approx(3 / 7)   # 合 计 元 of 合计12.5元
    assert han_share("   ") == 0.0


def test_a_page_is_chinese_when_zh_reads_hanzi_more_confidently_than_en():
    en, zh = Reader("lI1", 0.4), Reader("发票号码", 0.9)
    c = choose({"en": en, "zh": zh}, _strips(100, 300, 200))
    assert c.lang == "zh" and c.han == 1.0 and c.confidence == {"en": pytest.approx(0.4), "zh": pytest.approx(0.9)}


def test_latin_read_confidently_by_zh_stays_english():
    # zh reads Latin letters too, and may read them as surely as en: without hanzi the page is English
    c = choose({"en": Reader("Invoice", 0.9), "zh": Reader("Invoice", 0.95)}, _strips(300))
    assert c.lang == "en" and c.han == 0.0


def test_hanzi_read_less_confidently_than_en_reads_its_letters_stay_english():
    assert choose({"en": Reader("Total", 0.95), "zh": Reader("总计", 0.6)}, _strips(300)).lang == "en"
    # and the margin asks zh for more than a bare lead
    readers = {"en": Reader("lI", 0.7), "zh": Reader("总计", 0.75)}
    assert choose(readers, _strips(300)).lang == "zh"
    assert choose(readers, _strips(300), LanguageConfig(margin=0.1)).lang == "en"


def test_the_widest_lines_are_the_sample_and_a_page_without_lines_is_english():
    en, zh = Reader("x", 0.5), Reader("中", 0.9)
    choose({"en": en, "zh": zh}, _strips(50, 400, 90, 300, 700), LanguageConfig(sample_lines=3))
    assert en.seen == zh.seen == [[400, 300, 700]]          # the 3 widest, in page order
    assert choose({"en": en, "zh": zh}, []).lang == "en"
    with pytest.raises(ValueError, match="sample_lines"):
        LanguageConfig(sample_lines=0)
