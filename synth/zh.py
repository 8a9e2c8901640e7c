"""Simplified Chinese: the character set and document-like text for the ``zh`` recognizer.

Charset (``configs/charsets/zh.txt``, written by ``python -m synth.zh charset``): the characters of
``charsets/default.txt`` (printable ASCII and document symbols), the CJK punctuation of Chinese documents
(:data:`PUNCT`), a few symbols of forms and notices (:data:`SYMBOLS`) and every GB2312 hanzi (:func:`gb2312_hanzi`: 3 755 of level 1, then 3 008 of level 2,
in GB2312 order), listed by Python's ``gb2312`` codec. GB2312 holds every character of the benchmark's
document strings and about 99 % of its scene and web characters.

Full-width forms of ASCII (U+FF01-FF5E) that the charset lacks are read as ASCII
(:meth:`recognition.charset.Charset.normalize`); the full-width punctuation Chinese text is written with
(，；：？！（）) is listed, so it stays as written.

Text (:class:`ZhTextSource`, the Chinese counterpart of :class:`synth.text.TextSource` with the same
interface): words by their real frequency (``wordfreq``'s ``zh`` list, its words made of GB2312 hanzi)
joined without spaces into clauses and sentences; ``Faker('zh_CN')`` names, addresses, companies, jobs,
phone numbers and ID numbers; dates (2024年3月5日, 2024-03-05), money (￥12.50, 12.50元, and the capital
numerals of invoices: 壹佰贰拾元整), invoice codes and numbers (发票代码/号码, 纳税人识别号), form fields
(label：value), receipt items, lines that mix Chinese, English words and digits, plain English lines, and
*rare* lines: hanzi drawn uniformly from the charset, so every one of the 6 763 is seen often enough
(``rare`` share x lines x ~9 hanzi / 6 763 times an epoch; the training config sets the share).
The benchmark strings of ``../shared/data/zh`` are never read here.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import string
import sys
from pathlib import Path

import numpy as np

from synth.text import Drawing

__all__ = ["PUNCT", "SYMBOLS", "gb2312_hanzi", "charset_chars", "write_charset", "is_han", "ZhTextSource",
           "ZH_KINDS", "ZH_LABELS", "capital_amount", "word_runs"]

PUNCT = "，。、；：？！“”‘’（）《》【】…—·￥「」『』〈〉〔〕〇"
SYMBOLS = "℃①②③④⑤⑥⑦⑧⑨⑩●○■□▲△★☆→←↑↓≤≥※√"     # seen on Chinese forms, notices and receipts


def is_han(ch: str) -> bool:
    """A CJK unified ideograph (the basic block, where every GB2312 hanzi lies)."""
    return "\u4e00" <= ch <= "\u9fff"


def gb2312_hanzi(level: int | None = None) -> str:
    """The GB2312 hanzi in code order: ``level`` 1 (rows 16-55, 3 755 by pinyin), 2 (rows 56-87, 3 008 by
    radical), or both (None, 6 763)."""
    rows = {1: range(0xB0, 0xD8), 2: range(0xD8, 0xF8), None: range(0xB0, 0xF8)}[level]
    out = []
    for hi in rows:
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:                   # the five empty cells at the end of row 55
                pass
    return "".join(out)


def charset_chars() -> str:
    """The ``zh`` charset, in file order (see the module docstring)."""
    import configs

    chars = dict.fromkeys(configs.read_charset("charsets/default.txt") + PUNCT + SYMBOLS + gb2312_hanzi())
    return "".join(chars)


def write_charset(path: Path) -> int:
    """Write :func:`charset_chars` in the charset file format; returns the number of characters."""
    chars = charset_chars()
    head = ["# Simplified Chinese + English charset: the default charset (printable ASCII, document symbols),",
            "# CJK punctuation and symbols, then the 6 763 GB2312 hanzi in GB2312 order.",
            "# Written by python -m synth.zh charset.",
            "# One character per line; <space> is the space; lines starting with '# ' are comments."]
    body = ["<space>" if c == " " else c for c in chars]
    Path(path).write_text("\n".join(head + body) + "\n", encoding="utf-8")
    return len(chars)


ZH_KINDS = ("sentence", "clause", "name", "address", "company", "date", "money", "invoice", "field", "item",
            "mixed", "number", "phone", "heading", "english", "rare")
_ZH_WEIGHTS = np.array([12, 10, 4, 5, 4, 4, 5, 3, 8, 5, 6, 2, 2, 3, 4, 22], float)
_LABELS = ("日期", "时间", "金额", "合计", "小计", "单价", "数量", "税额", "税率", "开票日期", "购买方", "销售方",
           "名称", "纳税人识别号", "地址、电话", "开户行及账号", "备注", "收款人", "复核", "开票人", "姓名", "性别",
           "民族", "出生", "住址", "联系电话", "电子邮箱", "部门", "职务", "编号", "单位", "项目", "规格型号",
           "收银员", "会员卡号", "找零", "实收", "应付", "优惠", "订单号", "交易时间", "门店", "地址", "电话",
           "经办人", "审核", "申请人", "身份证号", "邮编", "负责人", "签字", "盖章", "页码", "附件")
_HEADINGS = ("增值税普通发票", "增值税专用发票", "购物小票", "收据", "通知", "关于举办年度会议的通知", "报名表",
             "申请表", "合同", "会议纪要", "工作报告", "入库单", "出库单", "送货单", "报价单", "对账单", "说明书",
             "个人简历", "登记表", "证明", "公告", "欢迎光临", "谢谢惠顾", "请妥善保管", "发货清单")
_UNITS = ("个", "件", "瓶", "盒", "袋", "包", "箱", "台", "套", "支", "本", "张", "斤", "千克", "米", "次")
_BRANDS = ("iPhone", "Android", "USB", "Wi-Fi", "WiFi", "5G", "4G", "LED", "PDF", "App", "VIP", "OK", "CEO",
           "GDP", "PM2.5", "APP", "Windows", "Excel", "Office", "NFC", "GPS", "CPU", "QQ", "ID", "IC", "TV", "DVD",
           "ATM", "SIM", "KTV", "Logo", "Email", "Type-C", "HDMI", "No.")
_DIGITS_CAP = "零壹贰叁肆伍陆柒捌玖"


def capital_amount(value: float) -> str:
    """An amount in the capital numerals of Chinese invoices: 120.5 -> 壹佰贰拾元伍角, 120 -> 壹佰贰拾元整."""
    fen = int(round(value * 100))
    yuan, jiao, fen = fen // 100, fen // 10 % 10, fen % 10
    units = ("", "拾", "佰", "仟")

    def four(n: int) -> str:                                 # 0..9999, zeros collapsed as written
        out, zero = "", False
        for i in range(3, -1, -1):
            d = n // 10 ** i % 10
            if d:
                out += ("零" if zero and out else "") + _DIGITS_CAP[d] + units[i]
                zero = False
            else:
                zero = True
        return out

    groups, big = [], yuan                                    # 4-digit groups, lowest first
    while True:
        groups.append(big % 10000)
        big //= 10000
        if not big:
            break
    text = ""
    for i in range(len(groups) - 1, -1, -1):
        if groups[i]:                                         # a gap before a group under 1000 is one 零
            text += ("零" if text and groups[i] < 1000 else "") + four(groups[i]) + ("", "万", "亿")[i]
    text = (text or "零") + "元"
    if jiao or fen:
        text += (_DIGITS_CAP[jiao] + "角" if jiao else "零") + (_DIGITS_CAP[fen] + "分" if fen else "")
    else:
        text += "整"
    return text


def _wordfreq_words(n: int) -> list[str]:
    """The first ``n`` words of ``wordfreq``'s ``zh`` list, by frequency, that are made of GB2312 hanzi."""
    import wordfreq

    han = set(gb2312_hanzi())
    return [w for w in wordfreq.top_n_list("zh", n) if all(c in han for c in w)]


@functools.lru_cache(maxsize=1)
def _vocabulary() -> tuple[list[str], np.ndarray]:
    import wordfreq

    table = wordfreq.get_frequency_dict("zh")               # the list itself: word_frequency() needs jieba
    words = _wordfreq_words(60000)
    freqs = np.array([table[w] for w in words])
    return words, np.cumsum(freqs / freqs.sum())


def word_runs(seed: int = 0, limit: int | None = None) -> list[str]:
    """Every word of ``wordfreq``'s whole ``zh`` list (about 294 000 of GB2312 hanzi; the first ``limit``
    only, with ``limit``) once, shuffled and joined into runs of 8-14 words: text in which each word's own
    character sequence is seen, however rare the word (the Chinese language model's vocabulary,
    :mod:`recognition.lm`; frequency-drawn sentences seldom reach the rare words)."""
    words = _wordfreq_words(limit or 10 ** 6)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(words))
    out, i = [], 0
    while i < len(order):
        k = int(rng.integers(8, 15))
        out.append("".join(words[j] for j in order[i:i + k]))
        i += k
    return out


ZH_LABELS = {
    "Re: ": "事由：", "Dear {},": "尊敬的{}：", "Sincerely,": "此致", "Yours faithfully,": "此致敬礼",
    "Kind regards,": "顺祝商祺", "Best regards,": "敬上", "?": "？", "Yes": "是", "No": "否", ":": "：", ": ": "：",
    "Name": "姓名", "Date": "日期", "Address": "地址", "City": "城市", "Phone": "电话", "E-mail": "电子邮箱",
    "Account No.": "账号", "Amount": "金额", "Signature": "签名", "Department": "部门", "Reference": "编号",
    "Approved by": "审批人", "Position": "职务", "Company": "单位", "Description": "品名", "Qty": "数量",
    "Price": "单价", "Code": "编码", "Item": "项目", "Rate": "税率", "Total": "合计", "Ref": "备注", "Tax": "税额",
    "INVOICE": "发票", "TAX INVOICE": "增值税普通发票", "Invoice": "销售单", "QUOTATION": "报价单",
    "STATEMENT": "对账单", "Invoice No:": "发票号码：", "Date:": "开票日期：", "Due Date:": "付款期限：",
    "Customer ID:": "客户编号：", "Bill To:": "购买方：", "Subtotal": "小计", "Shipping": "运费",
    "Total Due": "应付合计", "Cashier": "收银员", "Receipt No": "单号", "Table": "桌号", "SUBTOTAL": "小计",
    "TAX": "税额", "ROUNDING": "抹零", "TOTAL": "合计", "CASH": "现金", "CHANGE": "找零", "THANK YOU": "谢谢惠顾",
    "PLEASE COME AGAIN": "欢迎再次光临"}


# sentence punctuation: full-width (most Chinese text) and ASCII (much web and encyclopedia text)
_FULL_MIDS, _HALF_MIDS = ("，", "，", "，", "、", "；", "：", "——"), (",", ",", ",", "、", ";", ":", "-")
_FULL_ENDS = ("。", "。", "。", "！", "？", "", "", "……", "~")
_HALF_ENDS = ("。", ".", "!", "?", "", "~", "...", "!!")
_FULL_PAIRS = ("《》", "“”", "（）", "【】", "‘’", "「」")
_HALF_PAIRS = ('""', "()", "《》", "[]", "''")


class ZhTextSource(Drawing):
    """Deterministic source of Chinese document strings; ``ZhTextSource(seed)()`` returns one string.
    The same interface as :class:`synth.text.TextSource` (``rng``, ``faker``, ``__call__``, ``line``,
    ``fit``, the text kinds page layouts ask for by their English names, and ``labels``, the layouts'
    fixed wording in Chinese), so :class:`synth.lines.LineGenerator` and :class:`synth.pages.PageGenerator`
    draw from either."""

    labels = ZH_LABELS
    sep = ""                       # running text has no spaces between words
    width_factor = 1.8             # a hanzi is about an em wide, a Latin letter about 0.55 em

    def __init__(self, seed: int = 0, charset: str | None = None, rare: float | None = None):
        from faker import Faker

        from synth.text import TextSource

        self.rng = np.random.default_rng(seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(int(seed))
        self.charset = frozenset(charset if charset is not None else charset_chars())
        self.english = TextSource(seed, charset="".join(c for c in self.charset if c < "\u0100"))
        self.words, self._cdf = _vocabulary()
        self.hanzi = [c for c in gb2312_hanzi() if c in self.charset]
        self._weights = _ZH_WEIGHTS.copy()
        if rare is not None:                                  # the share of rare lines among all
            i = ZH_KINDS.index("rare")
            rest = self._weights.sum() - self._weights[i]
            self._weights[i] = rest * rare / max(1e-9, 1 - rare)
        self._p_kinds = self._weights / self._weights.sum()

    def reseed(self, rng: np.random.Generator, faker_seed: int) -> None:
        """Draw from ``rng`` and Faker seeded with ``faker_seed`` from now on, the English lines too."""
        super().reseed(rng, faker_seed)
        self.english.reseed(rng, faker_seed)

    # ---- helpers -------------------------------------------------------------------------------------
    def fit(self, text: str, chars: frozenset | set | None = None) -> str:
        """Limit ``text`` to the charset and to ``chars`` (a font's); runs of spaces become one."""
        allowed = self.charset if chars is None else self.charset & (set(chars) | {" "})
        return " ".join("".join(c for c in text.replace("\n", " ") if c in allowed).split())

    # ---- kinds ---------------------------------------------------------------------------------------
    def clause(self, n: int | None = None) -> str:
        return "".join(self.word() for _ in range(n or int(self.rng.integers(1, 5))))

    def sentence(self) -> str:
        """Running text: clauses joined by punctuation, now and then one of them quoted or bracketed. Web and
        encyclopedia text often punctuates Chinese with ASCII marks (``,`` ``;`` ``!`` ``?``), which look like
        their full-width forms but for the space after them, so a share of sentences use those."""
        parts = [self.clause(int(self.rng.integers(2, 6))) for _ in range(int(self.rng.integers(1, 4)))]
        half = self._p(0.3)
        if self._p(0.25):
            i = int(self.rng.integers(len(parts)))
            parts[i] = "{}".join(self._pick(_HALF_PAIRS if half else _FULL_PAIRS)).format(parts[i])
        s = "".join(p + self._pick(_HALF_MIDS if half else _FULL_MIDS) for p in parts[:-1]) + parts[-1]
        return s + self._pick(_HALF_ENDS if half else _FULL_ENDS)

    def name(self) -> str:
        f = self.faker
        return self._pick((f.name, f.name, f.last_name, lambda: f"{f.last_name()}{self._pick(('先生', '女士', '经理', '老师'))}",
                           lambda: f"{f.job()}：{f.name()}"))()

    def address(self) -> str:
        f = self.faker
        return self._pick((f.address, f.street_address, f.city, lambda: f"{f.province()}{f.city()}{f.district()}区",
                           lambda: f"{f.address()} 邮编：{f.postcode()}"))()

    def company(self) -> str:
        f = self.faker
        return self._pick((f.company, f.company, lambda: f"{f.company()}{self._pick(('分公司', '营业部', '门店', '办事处'))}",
                           f.company_prefix))()

    def date(self) -> str:
        d = datetime.date(1990, 1, 1) + datetime.timedelta(days=int(self.rng.integers(13500)))
        h, m, sec = (int(x) for x in self.rng.integers((0, 0, 0), (24, 60, 60)))
        fmt = int(self.rng.integers(8))
        s = (f"{d.year}年{d.month}月{d.day}日", f"{d:%Y-%m-%d}", f"{d:%Y/%m/%d}", f"{d.year}.{d.month}.{d.day}",
             f"{d.year}年{d.month:02d}月{d.day:02d}日", f"{d:%Y-%m-%d} {h:02d}:{m:02d}:{sec:02d}",
             f"{d.month}月{d.day}日", f"{d.year}年{d.month}月")[fmt]
        return s + (f" {h:02d}:{m:02d}" if fmt in (0, 1, 2) and self._p(0.2) else "")

    def money(self) -> str:
        v = float(self.rng.lognormal(3.5, 1.7))
        a = f"{v:,.2f}" if self._p(0.4) else f"{v:.2f}"
        return self._pick((f"￥{a}", f"¥{a}", f"{a}元", f"人民币{a}元", f"金额：￥{a}", f"合计：{a}",
                           f"（大写）{capital_amount(v)}", f"价税合计（大写）{capital_amount(v)}（小写）￥{v:.2f}",
                           f"{a}", f"-{a}"))

    def invoice(self) -> str:
        r = self.rng.integers
        code = "".join(self._pick(string.digits + string.ascii_uppercase) for _ in range(18))
        return self._pick((f"发票代码：{r(10**11, 10**12)}", f"发票号码：{r(10**7, 10**8):08d}", f"No {r(10**7, 10**8)}",
                           f"校验码：{r(10**4, 10**5)} {r(10**4, 10**5)} {r(10**4, 10**5)} {r(10**4, 10**5)}",
                           f"纳税人识别号：{code}", f"机器编号：{r(10**11, 10**12)}", f"订单号：{r(10**15, 10**16)}"))

    def field(self) -> str:
        label = self._pick(_LABELS)
        value = self._pick((self.date, self.money, self.name, self.phone, self.number, self.address, self.company,
                            self.clause, self.invoice))()
        value = value.split("：", 1)[-1]
        return f"{label}{self._pick(('：', '：', ':', ' ', '： '))}{value}"

    def item(self) -> str:
        r = self.rng
        name = self._pick((self.clause, self.word, lambda: f"{self.word()}{self._pick(_BRANDS)}"))()
        qty, price = int(r.integers(1, 20)), float(r.lognormal(2.0, 1.0))
        return self._pick((f"{name} {qty}{self._pick(_UNITS)} {price:.2f}", f"{name} ×{qty} {qty * price:.2f}",
                           f"{name} {price:.2f}×{qty} {qty * price:.2f}", f"{name}（{r.integers(100, 999)}ml）{price:.2f}"))

    def mixed(self) -> str:
        r = self.rng.integers
        b, w = self._pick(_BRANDS), self.word()
        return self._pick((f"{b}{w}", f"{w}{b}", f"{w} {self.english.word()} {w}", f"{b} {r(1, 99)}{self.clause()}",
                           f"第{r(1, 30)}页 共{r(1, 30)}页", f"{w}（{self.english.word().capitalize()}）",
                           f"{self.clause()}{r(1, 1000)}{self._pick(_UNITS)}", f"{w}：{self.english.code()}",
                           f"{r(1, 12)}月{r(1, 28)}日{self.clause()}", f"{w}{r(10, 99)}%"))

    def number(self) -> str:
        r = self.rng
        return self._pick((str(r.integers(0, 10 ** int(r.integers(1, 9)))), f"{r.uniform(0, 1000):.2f}",
                           f"{r.integers(1, 10**6):,}", f"{r.integers(1, 99)}%", f"{r.integers(1, 40)}℃"))

    def phone(self) -> str:
        f = self.faker
        return self._pick((f.phone_number, lambda: f"电话：{f.phone_number()}", lambda: f"0{self.rng.integers(10, 999)}-"
                           f"{self.rng.integers(10**6, 10**8)}", f.ssn))()

    def heading(self) -> str:
        return self._pick(_HEADINGS)

    # the kinds page layouts ask for by their English names (synth.text.KINDS)
    def words_(self, n: int | None = None) -> str:
        return self.clause(n)

    def time(self) -> str:
        h, m = (int(x) for x in self.rng.integers((0, 0), (24, 60)))
        return self._pick((f"{h:02d}:{m:02d}", f"{h}时{m}分", f"{h:02d}:{m:02d}:{int(self.rng.integers(60)):02d}"))

    def code(self) -> str:
        return self.invoice().split("：")[-1] if self._p(0.5) else self.english.code()

    def sku(self) -> str:
        return self.english.sku()

    def percent(self) -> str:
        return f"{self.rng.uniform(0, 100):.{int(self.rng.integers(0, 3))}f}%"

    def email(self) -> str:
        return self.faker.email()

    def url(self) -> str:
        return self._pick((self.faker.url, self.faker.domain_name, lambda: f"www.{self.faker.domain_name()}"))()

    def rare(self) -> str:
        """Hanzi drawn uniformly from the charset, in runs like words."""
        n = int(self.rng.integers(4, 15))
        idx = self.rng.integers(len(self.hanzi), size=n)
        s = "".join(self.hanzi[i] for i in idx)
        return s if not self._p(0.3) else s[: n // 2] + self._pick(("，", "、", " ", "。")) + s[n // 2:]

    def of_kind(self, kind: str) -> str:
        if kind == "english":
            return self.english.line(40)
        return (self.words_ if kind == "words" else getattr(self, kind))()

    # ---- public --------------------------------------------------------------------------------------
    def __call__(self, kind: str | None = None, max_chars: int = 40) -> str:
        """One string of ``kind`` (random kind by default), at most ``max_chars`` long, charset-limited."""
        for _ in range(20):
            k = kind or ZH_KINDS[int(self.rng.choice(len(ZH_KINDS), p=self._p_kinds))]
            s = self.fit(self.of_kind(k))
            if 0 < len(s) <= max_chars:
                return s
            if len(s) > max_chars:
                return s[:max_chars].strip()
        return self._pick(self.hanzi)

    def line(self, max_chars: int = 30) -> str:
        """A recognizer training line: one string, or two on one printed line."""
        s = self(max_chars=max_chars)
        if self._p(0.2):
            s = f"{s}{self._pick(('  ', ' ', '', '，'))}{self(max_chars=max_chars)}"
        return s[:max_chars].strip() or s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m synth.zh", description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["charset"])
    ap.add_argument("out", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "configs/charsets/zh.txt")
    args = ap.parse_args(argv)
    n = write_charset(args.out)
    print(f"{args.out}: {n} characters ({n + 1} classes with the CTC blank)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
