"""Character n-gram language model that CTC beam search consults (shallow fusion).

The model scores *case-folded* text: it says which letters, digits and symbols tend to follow which, never
which case a letter takes (case comes from the image alone, so SROIE's all-upper-case labels can teach it
spellings without teaching case). Smoothing is interpolated Witten-Bell, the usual choice for character
models (no held-out data to tune, always normalized)::

    P(c | h) = (C(h c) + T(h) * P(c | h[1:])) / (N(h) + T(h))        P(c | "") backs off to 1 / V

where ``C`` counts the n-grams seen in training, ``N(h)`` is the total count of n-grams starting with history
``h`` and ``T(h)`` the number of distinct characters seen after it; ``V`` is the vocabulary size (the
characters seen, plus end of line). Histories are the last ``order - 1`` characters, padded at the start of a
line with ``BOS``; ``EOS`` ends a line, so a line's score includes how plausibly it ends.

The model is stored as gzip-compressed JSON (``"charlm/1"``: order, vocabulary size, the n-gram counts and a
provenance record): loading it runs no code. ``python -m recognition.lm --out F ...`` trains one (see
:func:`main`).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import threading
import weakref
from collections import Counter
from pathlib import Path
from typing import Iterable

__all__ = ["CharLM", "BOS", "EOS", "FORMAT"]

BOS, EOS = "\x02", "\x03"
FORMAT = "charlm/1"
_SHARED: "weakref.WeakValueDictionary[tuple, CharLM]" = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


class CharLM:
    """Interpolated Witten-Bell character n-gram model over case-folded text (see the module docstring)."""

    def __init__(self, order: int, counts: dict[str, int], vocab: int, provenance: dict | None = None):
        if order < 1 or vocab < 1:
            raise ValueError(f"order and vocab must be >= 1, got {order}, {vocab}")
        self.order, self.vocab, self.counts = int(order), int(vocab), counts
        self.provenance = provenance or {}
        hist: dict[str, list[int]] = {}                # history -> [N(h), T(h)]
        for gram, n in counts.items():
            s = hist.setdefault(gram[:-1], [0, 0])
            s[0] += n
            s[1] += 1
        self._hist = hist
        self._cache: dict[tuple[str, str], float] = {}

    @classmethod
    def train(cls, texts: Iterable[str], order: int = 6, min_count: int = 1, provenance: dict | None = None) -> "CharLM":
        """Count every n-gram of length 1..``order`` in the case-folded ``texts`` (one line each; whitespace
        runs become one space). N-grams of length 3 or more seen fewer than ``min_count`` times are dropped
        (the model stays normalized: ``N`` and ``T`` are taken from the kept counts)."""
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        counts: Counter = Counter()
        chars: set[str] = set()
        pad = BOS * (order - 1)
        for text in texts:
            line = " ".join(text.split()).casefold()
            if not line:
                continue
            chars.update(line)
            s = pad + line + EOS
            for i in range(order - 1, len(s)):
                for k in range(order):
                    counts[s[i - k:i + 1]] += 1
        if not counts:
            raise ValueError("no text to train a language model on")
        kept = {g: n for g, n in counts.items() if n >= min_count or len(g) < 3}
        return cls(order, kept, len(chars) + 1, provenance)

    def _history(self, text: str) -> str:
        if self.order == 1:
            return ""
        s = BOS * (self.order - 1) + text.casefold()
        return s[len(s) - (self.order - 1):]

    def logp(self, text: str, char: str) -> float:
        """log P(``char`` | the line so far, ``text``), both case-folded; ``char`` = :data:`EOS` ends the line."""
        h = self._history(text)
        c = char.casefold()
        key = (h, c)
        got = self._cache.get(key)
        if got is not None:
            return got
        p = 1.0 / self.vocab
        for k in range(len(h) + 1):                      # lowest order first: "", h[-1:], h[-2:], ...
            ctx = h[len(h) - k:]
            st = self._hist.get(ctx)
            if st is None:
                break                                    # a longer history was never seen either
            n, t = st
            p = (self.counts.get(ctx + c, 0) + t * p) / (n + t)
        got = math.log(p)
        if len(self._cache) < 2_000_000:
            self._cache[key] = got
        return got

    def score(self, text: str) -> float:
        """log P of a whole line, end included."""
        return sum(self.logp(text[:i], ch) for i, ch in enumerate(text)) + self.logp(text, EOS)

    # ---- files ----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        doc = {"format": FORMAT, "order": self.order, "vocab": self.vocab, "provenance": self.provenance,
               "counts": self.counts}
        tmp = Path(str(path) + ".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as fh:
            json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "CharLM":
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, EOFError, ValueError) as e:
            raise ValueError(f"{path}: not a readable language model file ({e})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} language model file")
        return cls(doc["order"], doc["counts"], doc["vocab"], doc.get("provenance"))

    @classmethod
    def shared(cls, path: str | Path) -> "CharLM":
        """:meth:`load`, once per process for each file (the same path, size and modification time) while any
        recognizer still holds it. A loaded model is only read (its memo of computed probabilities aside:
        single dict reads and writes, safe across threads), so the recognizers of every thread share one copy;
        the OCRmyPDF plugin loads the models once per worker thread, and each copy is ~120 MB (en) or
        ~160 MB (zh)."""
        st = Path(path).stat()
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
        with _SHARED_LOCK:                               # one load, not one per thread that asks at once
            lm = _SHARED.get(key)
            if lm is None:
                lm = _SHARED[key] = cls.load(path)
        return lm


def _real_lines(folder: Path) -> list[str]:
    from synth import pageset

    pages = pageset.split(pageset.read(folder), "train", folder.resolve().name)
    return [ln.text for p in pages for ln in p.lines if not ln.ignore and ln.text.strip()]


def _synthetic_lines(lang: str, n: int, seed: int) -> tuple[list[str], str]:
    """``n`` synthetic text lines of ``lang`` and what they are (for the provenance record). Chinese: the
    Chinese text source without its *rare* lines (hanzi drawn uniformly, no text), and the whole ``zh`` word
    list once (:func:`synth.zh.word_runs`)."""
    from tqdm import tqdm

    if lang == "en":
        from synth.text import TextSource

        src = TextSource(seed=seed)
        return [src.line() for _ in tqdm(range(n), desc="synthetic text", unit="line")], \
            f"{n} lines of synth.text, seed {seed}"
    from synth.zh import ZhTextSource, word_runs

    src = ZhTextSource(seed=seed, rare=0.0)
    texts = [src.line(40) for _ in tqdm(range(n), desc="synthetic text", unit="line")]
    runs = word_runs(seed)
    return texts + runs, (f"{n} lines of synth.zh.ZhTextSource (no rare lines), seed {seed}, and "
                          f"{len(runs)} runs of the whole wordfreq zh list (synth.zh.word_runs)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recognition.lm",
                                 description="Train the character language model that beam search consults.")
    ap.add_argument("--out", type=Path, required=True, help="model file to write (.json.gz)")
    ap.add_argument("--lang", choices=["en", "zh"], default="en",
                    help="en: Latin-script text (charlm.json.gz); zh: Chinese text (charlm_zh.json.gz)")
    ap.add_argument("--order", type=int, default=None,
                    help="n-gram order (default 6 for en, 3 for zh: Chinese text's characters are words or "
                         "parts of words, and orders 4 and 5 read the dev lines no better)")
    ap.add_argument("--min-count", type=int, default=2, help="drop n-grams of length >= 3 seen fewer times (default 2)")
    ap.add_argument("--synth-lines", type=int, default=None,
                    help="synthetic text lines (default 150000 for en, 300000 for zh)")
    ap.add_argument("--synth-seed", type=int, default=3, help="their seed (default 3, the recognizer's training seed)")
    ap.add_argument("--real", type=Path, nargs="*", default=[],
                    help="page-set folders whose *train* split labels are added (validation pages never are)")
    ap.add_argument("--real-repeat", type=int, default=5, help="how many times the real labels are counted (default 5)")
    args = ap.parse_args(argv)
    if args.order is not None and args.order < 1:
        ap.error(f"--order must be at least 1, got {args.order}")
    order = args.order or {"en": 6, "zh": 3}[args.lang]
    n_lines = args.synth_lines if args.synth_lines is not None else {"en": 150000, "zh": 300000}[args.lang]
    try:
        real = {str(f): _real_lines(f) for f in args.real}
    except (OSError, ValueError) as e:
        print(f"recognition.lm: {e}", file=sys.stderr)
        return 2
    texts, synthetic = _synthetic_lines(args.lang, n_lines, args.synth_seed)
    for lines in real.values():
        texts += lines * args.real_repeat
    prov = {"lang": args.lang, "order": order, "min_count": args.min_count, "case": "folded",
            "synthetic": synthetic,
            "real": {k: f"{len(v)} train-split labels x {args.real_repeat}" for k, v in real.items()}}
    lm = CharLM.train(texts, order, args.min_count, prov)
    prov["ngrams"] = len(lm.counts)
    lm.save(args.out)
    print(f"{args.out}: order {lm.order}, {len(lm.counts)} n-grams, vocabulary {lm.vocab}, "
          f"{args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
