"""Chinese test pages: the benchmark strings laid out as notices, receipts, invoices and forms, in the
reserved fonts, written as a page set that ``ocr-eval`` reads.

    python benchmarks/zh_pages.py OUT [--pages 20] [--strings ../shared/data/zh] [--seed 20261204]
    ocr-eval OUT --lang zh --system project --system rapidocr --system tesseract

The page layouts are the synthetic generator's (``synth.pages.PageGenerator(lang="zh")``: a notice in
columns or as a letter, a receipt, an invoice, a form, in turn), but every piece of text on them is a
string of ``document_dev.txt`` and ``web_dev.txt`` (names, addresses, amounts and running text alike; the
layouts' fixed wording, such as 合计 and 发票号码, and their generated prices stay), drawn in AR PL UKai and
LXGW WenKai, the two fonts no training sample uses, at 200 to 300 dpi (hanzi under ~14 px are blobs).
Pages get the generator's scan, photocopy and photo degradations (no fax) and page geometry. The ground truth is what was drawn, one line per JSON entry
(``synth.pageset`` format). A benchmark helper: it writes pages and asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
_STRINGS = _ROOT.parent / "shared/data/zh"
LAYOUTS = ("columns", "receipt", "invoice", "form", "letter")


class StringsSource:
    """A text source (the interface of :class:`synth.zh.ZhTextSource`) whose every string is one of
    ``strings``, drawn by the page's generator; running text joins a few of them."""

    def __init__(self, strings: list[str], seed: int = 0):
        from faker import Faker

        from synth.zh import ZH_LABELS

        self.strings, self.labels, self.sep, self.width_factor = strings, ZH_LABELS, "", 1.8
        self.rng = np.random.default_rng(seed)
        self.faker = Faker("zh_CN")

    def reseed(self, rng, faker_seed: int) -> None:
        self.rng = rng
        self.faker.seed_instance(faker_seed)

    def fit(self, text: str, chars=None) -> str:
        return " ".join("".join(c for c in text.replace("\n", " ") if chars is None or c in chars or c == " ").split())

    def __call__(self, kind: str | None = None, max_chars: int = 40) -> str:
        return self.strings[int(self.rng.integers(len(self.strings)))][:max_chars]

    def sentence(self) -> str:
        return "，".join(self() for _ in range(int(self.rng.integers(2, 5)))) + "。"

    def words_(self, n: int | None = None) -> str:
        return self()

    def __getattr__(self, kind: str):                 # name, company, address, date, money, code, ...
        if kind.startswith("_"):
            raise AttributeError(kind)
        return lambda *a, **k: self()


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from synth import pageset
    from synth.config import PageConfig
    from synth.fonts import discover_zh
    from synth.pages import PageGenerator

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--strings", type=Path, default=_STRINGS)
    ap.add_argument("--seed", type=int, default=20261204)
    args = ap.parse_args(argv)
    strings = [s.strip() for name in ("document", "web")
               for s in (args.strings / f"{name}_dev.txt").read_text(encoding="utf-8").splitlines() if s.strip()]
    cfg = PageConfig(dpi=(200, 300), profiles={"clean": 1.0, "scan": 1.5, "photocopy": 0.5, "photo": 1.0})
    gen = PageGenerator(cfg, seed=args.seed, fonts=discover_zh(reserved=True), lang="zh",
                        text=StringsSource(strings, args.seed))
    args.out.mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(args.pages), desc="zh pages", unit="page"):
        p = gen.page(i, layout=LAYOUTS[i % len(LAYOUTS)])
        pageset.write(args.out, f"zh_{i:03d}", p.image, p.to_json(""))
    print(f"{args.out}: {args.pages} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
