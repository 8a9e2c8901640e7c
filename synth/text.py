"""Realistic document text for the synthetic generator.

English words are drawn by their real frequency (``wordfreq``); names, addresses, companies, phone
numbers, e-mails and URLs come from ``Faker``; dates, times, money, percentages, invoice/reference
codes, SKUs and punctuation-heavy strings are composed here in the formats real documents use.
Everything is deterministic for a given seed: one :class:`TextSource` owns one ``numpy`` generator and
one seeded Faker instance.

Every string is limited to the characters of a charset (``configs/charsets/default.txt`` by default);
:meth:`TextSource.fit` maps typographic characters a font lacks to ASCII look-alikes.
"""
from __future__ import annotations

import datetime
import functools
import string

import numpy as np

import configs

__all__ = ["TextSource", "Drawing", "KINDS", "EXTRA_KINDS"]

KINDS = ("words", "sentence", "name", "address", "company", "date", "time", "money", "percent", "phone",
         "email", "url", "code", "sku", "punct", "heading", "mixed", "number", "field")
_KIND_WEIGHTS = np.array([14, 14, 6, 6, 5, 6, 3, 8, 3, 4, 3, 2, 5, 3, 4, 4, 3, 4, 8], float)
# kinds a caller asks for by name and the random mix never draws: adding them to KINDS would change every
# seed's text stream, and with it the synthetic test lines (recognizer training mixes them in by share)
EXTRA_KINDS = ("separator",)
_EPOCH, _DATE_DAYS = datetime.date(1970, 1, 1), (datetime.date(2026, 1, 1) - datetime.date(1970, 1, 1)).days
_FIXUP = {"i": "I", "i'm": "I'm", "i've": "I've", "i'll": "I'll", "i'd": "I'd", "u.s": "U.S.", "u.k": "U.K."}
_ASCII = {"€": "EUR", "£": "GBP", "¥": "JPY", "©": "(c)", "®": "(R)", "°": "o", "±": "+/-", "×": "x",
          "•": "*", "–": "-", "—": "--", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "§": "S",
          "µ": "u", "¢": "c"}
_BLOCK = frozenset("shit fuck fucking fucked damn bitch ass asshole dick cunt bullshit porn sex sexy nigga nigger "
                   "pussy cock slut whore bastard".split())  # real-frequency English, minus profanity
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CURRENCIES = ("$", "$", "$", "€", "€", "£", "¥", "RM", "USD", "EUR", "GBP", "CHF", "S$", "A$")
_LABELS = ("Date", "Invoice No", "Invoice #", "Ref", "Order", "Total", "Subtotal", "Tax", "VAT", "Amount",
           "Balance Due", "Name", "Address", "Tel", "Phone", "Fax", "E-mail", "Account", "Cashier",
           "Table", "Qty", "Price", "Due Date", "Customer ID", "PO Number", "Page", "Signature", "Dept",
           "Project", "Change", "Cash", "Discount", "Rounding", "GST", "Member", "Terminal", "Receipt No")
_PUNCT = ("({a}; see p. {n})", "{a}, {b} & {c}", "\"{a}\" - {b}!", "{a}/{b}/{c}", "[{a}] {b}?",
          "{a}: {n} x @ {m} = {k}", "*** {A} ***", "N/A", "{a}... {b}", "{a} (ref. #{n})", "<{a}>",
          "{a} + {b} = {c}", "'{a}' {b}'s", "#{n}-{n2}", "{a} | {b} | {c}", "{A}: {n}%", "{a}_{b}@{c}",
          "({n}) {a}, {b}.", "~{n} {a}", "= {A} =", "{a}; {b}: {c}.", "{A}!!")
_SEP_CHARS = tuple("-=*._#~+:")
_SEP_P = np.array([25, 15, 15, 15, 10, 5, 5, 5, 5], float) / 100


@functools.lru_cache(maxsize=1)
def _vocabulary() -> tuple[list[str], np.ndarray]:
    import wordfreq

    words = wordfreq.top_n_list("en", 30000)
    freqs = np.array([wordfreq.word_frequency(w, "en") for w in words])
    keep = [i for i, w in enumerate(words) if w not in _BLOCK]
    words = [_FIXUP.get(words[i], words[i]) for i in keep]
    freqs = freqs[keep]
    return words, np.cumsum(freqs / freqs.sum())


class Drawing:
    """What a text source draws with: ``rng``, ``faker`` and a frequency-ranked ``words`` list with its
    cumulative distribution ``_cdf`` (set by the subclass)."""

    def reseed(self, rng: np.random.Generator, faker_seed: int) -> None:
        """Draw from ``rng`` and Faker seeded with ``faker_seed`` from now on (one line's own stream)."""
        self.rng = rng
        self.faker.seed_instance(faker_seed)

    def _pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def _p(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def word(self) -> str:
        return self.words[int(np.searchsorted(self._cdf, self.rng.random()))]


class TextSource(Drawing):
    """Deterministic source of document strings; ``TextSource(seed)()`` returns one random string."""

    labels: dict[str, str] = {}      # a page layout's fixed wording, translated (synth.zh: into Chinese)
    sep = " "                        # what separates the words of running text
    width_factor = 1.0               # a character's width relative to Latin text's (page layouts size by it)

    def __init__(self, seed: int = 0, charset: str | None = None, locale: str = "en_US"):
        from faker import Faker

        self.rng = np.random.default_rng(seed)
        self.faker = Faker(locale)
        self.faker.seed_instance(int(seed))
        self.charset = frozenset(charset if charset is not None else configs.read_charset())
        self.words, self._cdf = _vocabulary()

    # ---- helpers -------------------------------------------------------------------------------------
    def fit(self, text: str, chars: frozenset | set | None = None) -> str:
        """Limit ``text`` to the charset and to ``chars`` (a font's), using ASCII look-alikes."""
        allowed = self.charset if chars is None else self.charset & (set(chars) | {" "})
        out = []
        for c in text.replace("\n", " "):
            if c in allowed:
                out.append(c)
            else:
                out.extend(a for a in _ASCII.get(c, "") if a in allowed)
        return " ".join("".join(out).split())

    # ---- kinds ---------------------------------------------------------------------------------------
    def words_(self, n: int | None = None) -> str:
        n = n or int(self.rng.integers(1, 8))
        return " ".join(self.word() for _ in range(n))

    def sentence(self, n: int | None = None) -> str:
        n = n or int(self.rng.integers(4, 16))
        ws = [self.word() for _ in range(n)]
        if self._p(0.3):
            ws[int(self.rng.integers(n))] = self.faker.last_name()
        for i in range(1, n - 1):
            if self._p(0.07):
                ws[i] += self._pick((",", ",", ",", ";", ":"))
        s = " ".join(ws)
        return s[0].upper() + s[1:] + self._pick(".....?!:")

    def name(self) -> str:
        f = self.faker
        r = self.rng.random()
        if r < 0.5:
            return f.name()
        if r < 0.7:
            return f"{f.last_name().upper()}, {f.first_name()}"
        if r < 0.85:
            return f"{f.first_name()[0]}. {f.last_name()}"
        return f"{self._pick(('Mr.', 'Mrs.', 'Ms.', 'Dr.', 'Prof.'))} {f.first_name()} {f.last_name()}"

    def address(self) -> str:
        f = self.faker
        return self._pick((f.street_address, f.city, lambda: f"{f.city()}, {f.state_abbr()} {f.postcode()}",
                           lambda: f.address().replace("\n", ", "), f.secondary_address,
                           lambda: f"P.O. Box {self.rng.integers(1, 9999)}"))()

    def company(self) -> str:
        f = self.faker
        r = self.rng.random()
        if r < 0.55:
            return f.company()
        if r < 0.75:
            return f"{f.last_name()} {self._pick(('Sdn Bhd', 'Ltd', 'GmbH', 'Inc.', 'LLC', '& Co.', 'S.A.', 'Trading'))}"
        return f.catch_phrase() if r < 0.88 else f.bs().capitalize()

    def date(self) -> str:
        d = _EPOCH + datetime.timedelta(days=int(self.rng.integers(_DATE_DAYS)))   # not Faker's: it ends "now"
        fmt = int(self.rng.integers(11))
        mon = _MONTHS[d.month - 1]
        return (f"{d:%Y-%m-%d}", f"{d:%d/%m/%Y}", f"{d:%m/%d/%Y}", f"{d:%d.%m.%Y}", f"{d.day} {mon[:3]} {d.year}",
                f"{mon} {d.day}, {d.year}", f"{d.day:02d}-{mon[:3].upper()}-{d:%y}", f"{d:%d/%m/%y}",
                f"{_DAYS[d.weekday()]}, {d.day} {mon} {d.year}", f"{d.day} {mon} {d.year}",
                f"{d:%Y%m%d}")[fmt]

    def time(self) -> str:
        h, m, s = (int(x) for x in self.rng.integers((0, 0, 0), (24, 60, 60)))
        fmt = int(self.rng.integers(4))
        return (f"{h:02d}:{m:02d}", f"{h % 12 or 12}:{m:02d} {'AM' if h < 12 else 'PM'}", f"{h:02d}:{m:02d}:{s:02d}",
                f"{h % 12 or 12}:{m:02d}:{s:02d}{'am' if h < 12 else 'pm'}")[fmt]

    def money(self) -> str:
        v = float(self.rng.lognormal(3.0, 1.6))
        cur = self._pick(_CURRENCIES)
        amount = f"{v:,.2f}" if self._p(0.7) else f"{v:.2f}"
        if self._p(0.1):
            amount = amount.replace(",", " ").replace(".", ",")
        r = self.rng.random()
        s = f"{cur}{amount}" if r < 0.5 else f"{cur} {amount}" if r < 0.8 else f"{amount} {cur}"
        if self._p(0.06):
            s = f"-{s}" if self._p(0.5) else f"({s})"
        return s

    def percent(self) -> str:
        v = float(self.rng.uniform(-20, 100))
        return self._pick((f"{v:.0f}%", f"{v:.1f}%", f"{v:.2f} %", f"+{abs(v):.1f}%"))

    def phone(self) -> str:
        return self._pick((self.faker.phone_number, lambda: f"+{self.rng.integers(1, 99)} {self.rng.integers(10, 99)} "
                           f"{self.rng.integers(1000, 9999)} {self.rng.integers(1000, 9999)}",
                           lambda: f"Tel: {self.faker.phone_number()}"))()

    def email(self) -> str:
        return self.faker.email() if self._p(0.6) else self.faker.company_email()

    def url(self) -> str:
        return self._pick((self.faker.url, self.faker.domain_name, lambda: f"www.{self.faker.domain_name()}",
                           self.faker.uri))()

    def code(self) -> str:
        r = self.rng.integers
        up = string.ascii_uppercase
        return self._pick((
            lambda: f"INV-{r(2000, 2030)}-{r(1, 99999):05d}", lambda: f"#{self._pick(up)}{r(10000, 999999)}",
            lambda: f"PO {r(100, 9999)}/{r(10, 30)}", lambda: f"Ref: {''.join(self._pick(up) for _ in range(3))}/{r(100, 999)}",
            lambda: f"{r(100000, 999999)}-{self._pick(up)}", lambda: f"No. {r(1, 99999)}",
            lambda: f"{''.join(self._pick(up) for _ in range(2))}{r(10**7, 10**8)}",
            lambda: f"CS{r(10**4, 10**5)}", lambda: self.faker.bothify("??-####-??").upper(),
            lambda: self.faker.iban(), lambda: f"{r(100, 999)}-{r(10, 99)}-{r(1000, 9999)}"))()

    def sku(self) -> str:
        r = self.rng.integers
        return self._pick((
            lambda: f"SKU {r(1000, 9999)}-{self._pick(('XL', 'S', 'M', 'L', 'BLK', 'WHT', 'RED'))}",
            lambda: self.faker.ean13(), lambda: f"{r(1000, 9999)}-{r(100, 999)}-{r(0, 9)}",
            lambda: self.faker.bothify("??###-###").upper(), lambda: f"{r(10, 99)}x {self.word().upper()}",
            lambda: f"ART.{r(10000, 99999)}"))()

    def punct(self) -> str:
        t = self._pick(_PUNCT)
        a, b, c = self.word(), self.word(), self.word()
        return t.format(a=a, b=b, c=c, A=a.upper(), n=int(self.rng.integers(1, 999)),
                        n2=int(self.rng.integers(1, 99)), m=f"{self.rng.uniform(0.5, 99):.2f}",
                        k=f"{self.rng.uniform(1, 999):.2f}")

    def heading(self) -> str:
        s = self._pick((lambda: self.words_(int(self.rng.integers(1, 5))), self.faker.catch_phrase,
                        lambda: self._pick(("Invoice", "Receipt", "Statement of Account", "Purchase Order",
                                            "Tax Invoice", "Delivery Note", "Memorandum", "Minutes",
                                            "Application Form", "Terms and Conditions", "Summary", "Notes"))))()
        return s.upper() if self._p(0.6) else s.title()

    def mixed(self) -> str:
        r = self.rng.integers
        w = self.word()
        return self._pick((lambda: f"i{w.capitalize()}", lambda: f"Mc{self.faker.last_name()}",
                           lambda: f"{w.capitalize()}{self.word().capitalize()}", lambda: f"{w}{r(1, 99)}",
                           lambda: f"{w.upper()}-{r(1, 9)}{self._pick(string.ascii_lowercase)}",
                           lambda: " ".join(x.capitalize() if self._p(0.5) else x for x in self.words_().split())))()

    def number(self) -> str:
        r = self.rng
        return self._pick((lambda: str(r.integers(0, 10**int(r.integers(1, 9)))), lambda: f"{r.uniform(0, 1000):.2f}",
                           lambda: f"{r.integers(1, 10**6):,}", lambda: f"{r.integers(1, 99)} x {r.uniform(0.1, 99):.2f}",
                           lambda: f"{r.uniform(-50, 50):.1f}°C", lambda: f"{r.integers(1, 500)} kg",
                           lambda: f"{r.integers(1, 99)}/{r.integers(1, 99)}"))()

    def field(self) -> str:
        """A label and its value, as on forms and receipts: ``Total: $45.00``."""
        label = self._pick(_LABELS)
        value = self._pick((self.date, self.money, self.code, self.name, self.phone, self.time, self.number))()
        sep = self._pick((": ", ": ", " ", " : ", ":"))
        return f"{label.upper() if self._p(0.3) else label}{sep}{value}"

    def separator(self) -> str:
        """A typed separator row as receipts and forms print them: a run of one symbol (``----------``),
        spaced (``= = = =``), around a label (``***** GST Summary *****``) or as a dot leader
        (``TOTAL AMT.......... RM 12.30``). One of :data:`EXTRA_KINDS`: ``ts("separator")``."""
        ch = _SEP_CHARS[int(self.rng.choice(len(_SEP_CHARS), p=_SEP_P))]
        r, k = self.rng.integers, self.rng.random()
        if k < 0.4:
            return ch * int(r(3, 60))
        if k < 0.55:
            return " ".join([ch] * int(r(3, 30)))
        if k < 0.8:
            label = self._pick((self.heading, lambda: self._pick(_LABELS), lambda: self._pick(_LABELS).upper()))()
            run = ch * int(r(2, 16))
            gap = " " if self._p(0.7) else ""
            return f"{run}{gap}{label}{gap}{run}" if self._p(0.8) else f"{label}{gap}{run}"
        label = self._pick(_LABELS)
        label = label.upper() if self._p(0.5) else label
        lead = self._pick((".", ".", ".", "-", "_", " ."))
        value = self._pick((self.money, self.number, self.date, lambda: ""))()
        return f"{label}{lead * int(r(3, 30))} {value}".strip()

    # ---- public --------------------------------------------------------------------------------------
    def of_kind(self, kind: str) -> str:
        fn = {"words": self.words_}.get(kind) or getattr(self, kind)
        return fn()

    def __call__(self, kind: str | None = None, max_chars: int = 80) -> str:
        """One string of ``kind`` (random kind by default), at most ``max_chars`` long, charset-limited."""
        for _ in range(20):
            k = kind or KINDS[int(self.rng.choice(len(KINDS), p=_KIND_WEIGHTS / _KIND_WEIGHTS.sum()))]
            s = self.fit(self.of_kind(k))
            if self._p(0.08) and k in ("words", "sentence", "company", "name", "address"):
                s = s.upper()
            if 0 < len(s) <= max_chars:
                return s
            if len(s) > max_chars:
                cut = s[:max_chars].rsplit(" ", 1)[0].strip()
                if cut:
                    return cut
        return self.fit(self.word()) or "a"

    def line(self, max_chars: int = 60) -> str:
        """A recognizer training line: one or a few strings joined, as they appear on one printed line."""
        n = int(self.rng.choice([1, 1, 1, 2, 2, 3]))
        parts = [self(max_chars=max_chars) for _ in range(n)]
        joiner = self._pick(("  ", " ", " ", " - ", "   ", " | ", ", "))
        s = " ".join(joiner.join(parts).split(" ")).strip()
        if len(s) > max_chars:
            s = s[:max_chars].rsplit(" ", 1)[0].strip() or s[:max_chars].strip()
        return s
