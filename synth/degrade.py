"""Scan, fax, photocopy, phone-photo and thermal-print degradations.

Each effect is a function ``(img, rng, scale) -> img`` on a ``uint8`` array (``H,W`` gray or ``H,W,3``
RGB) that keeps the shape; ``scale`` is the typical text height in pixels so that kernel sizes follow
the text rather than the image. :func:`degrade` applies one *profile*: a realistic chain of effects for
one way a page reaches us (office scan, fax, photocopy, phone photo, thermal receipt), with the amounts
drawn at random. None of these moves ink: geometry (skew, perspective) is applied by the page renderer
so that ground-truth quads follow it.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["PROFILES", "degrade", "handwriting", "ink_contrast", "paper"]

PROFILES = ("clean", "scan", "fax", "photocopy", "photo", "thermal")


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255, out=x).astype(np.uint8)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int) -> np.ndarray:
    """A smooth random field in [0, 1] of ``shape``: coarse noise upsampled with bicubic interpolation."""
    h, w = shape
    gh, gw = max(2, cells * h // max(h, w) + 2), max(2, cells * w // max(h, w) + 2)
    f = cv2.resize(rng.random((gh, gw), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(f.min()), float(f.max())
    return (f - lo) / (hi - lo + 1e-6)


def _low_res(shape: tuple[int, int], fn, step: int = 8) -> np.ndarray:
    """Evaluate a smooth field ``fn(yy, xx)`` on a grid ``step`` times coarser and resize it up."""
    h, w = shape
    gh, gw = max(2, h // step), max(2, w // step)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    f = fn(yy * (h / gh), xx * (w / gw)).astype(np.float32)
    return cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)


def _mul(img: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``img * f`` for a field ``f`` (H,W) in [0, 1], saturating, in uint8 (cv2 SIMD, no float copies)."""
    fu = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if img.ndim == 3:
        fu = cv2.cvtColor(fu, cv2.COLOR_GRAY2RGB)
    return cv2.multiply(img, fu, scale=1.0 / 255.0)


def _lighten(img: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``img + (255 - img) * f``: fade ink towards paper by ``f`` (H,W) in [0, 1]."""
    inv = cv2.bitwise_not(img)
    return cv2.bitwise_not(_mul(inv, 1.0 - f))


def paper(img: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Tinted paper with low-frequency blotches and fine fibre grain, multiplied under the ink."""
    h, w = img.shape[:2]
    f = 1.0 - rng.uniform(0.0, 0.08) * _smooth_field((h, w), rng, 6)
    grain = np.empty((h, w), np.uint8)
    cv2.setRNGSeed(int(rng.integers(2**31)))           # OpenCV's RNG is global: seed it from ours
    cv2.randu(grain, 0, int(rng.uniform(1, 14)))
    f -= grain.astype(np.float32) / 255.0
    out = _mul(img, f)
    if img.ndim == 3:
        out = cv2.multiply(out, (1.0, float(rng.uniform(0.96, 1.0)), float(rng.uniform(0.88, 1.0)), 1.0))
    return out


def blur(img, rng, scale):
    # sigma grows with the text, but small text keeps its strokes apart: at 10 px a sigma past ~1 px
    # turns words into grey smears nobody could read (label noise for training, not realism)
    s = rng.uniform(0.3, 0.05 * scale + 0.4)
    return cv2.GaussianBlur(img, (0, 0), s)


def motion_blur(img, rng, scale):
    k = int(rng.integers(3, max(4, int(0.25 * scale)) + 1))
    kern = np.zeros((k, k), np.float32)
    kern[k // 2, :] = 1.0
    m = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), rng.uniform(0, 180), 1.0)
    kern = cv2.warpAffine(kern, m, (k, k))
    return cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))


def noise(img, rng, scale):
    n = np.empty(img.shape, np.int16)
    cv2.setRNGSeed(int(rng.integers(2**31)))
    cv2.randn(n, 0, float(rng.uniform(2, 14)))
    return cv2.add(img.astype(np.int16), n).clip(0, 255).astype(np.uint8)


def salt_pepper(img, rng, scale):
    out = img.copy()
    amount = rng.uniform(0.0005, 0.006)
    m = rng.random(img.shape[:2], dtype=np.float32)
    out[m < amount / 2] = 0
    out[m > 1 - amount / 2] = 255
    return out


def jpeg(img, rng, scale):
    q = int(rng.integers(12, 70))
    code = img[..., ::-1] if img.ndim == 3 else img
    ok, buf = cv2.imencode(".jpg", code, [cv2.IMWRITE_JPEG_QUALITY, q])
    dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return dec[..., ::-1].copy() if img.ndim == 3 else dec


def low_contrast(img, rng, scale):
    lo, hi = rng.uniform(0, 110), rng.uniform(185, 255)
    return cv2.convertScaleAbs(img, alpha=(hi - lo) / 255.0, beta=lo)


def lighting(img, rng, scale):
    """Uneven lighting: a smooth brightness field, optionally with a hard-edged shadow (phone photos)."""
    h, w = img.shape[:2]
    f = 1.0 - rng.uniform(0.1, 0.45) * _smooth_field((h, w), rng, 3)
    if rng.random() < 0.5:
        a = rng.uniform(0, 2 * np.pi)
        cx, cy = w * rng.uniform(0.2, 0.8), h * rng.uniform(0.2, 0.8)
        soft = max(2.0, rng.uniform(0.005, 0.05) * max(h, w))
        depth = rng.uniform(0.2, 0.5)
        f = f * _low_res((h, w), lambda yy, xx: 1.0 - depth / (1.0 + np.exp(
            -((xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)) / soft)), step=4)
    return _mul(img, f)


def color_cast(img, rng, scale):
    if img.ndim == 2:
        return img
    g = rng.uniform(0.85, 1.08, 3)
    return cv2.multiply(img, (float(g[0]), float(g[1]), float(g[2]), 1.0))


def ink_bleed(img, rng, scale):
    k = int(round(rng.uniform(0.03, 0.08) * scale))
    if k < 2:  # a whole-pixel bleed on small text closes every counter: blobs, not text
        return img
    return cv2.erode(img, np.ones((k, k), np.uint8))  # dark ink grows


def broken(img, rng, scale):
    """Broken strokes: ink lightened where a fine random field is high (worn type, dry toner)."""
    h, w = img.shape[:2]
    cells = max(4, int(max(h, w) / max(1.5, 0.25 * scale)))
    f = _smooth_field((h, w), rng, cells)
    holes = (f > rng.uniform(0.6, 0.8)).astype(np.float32) * rng.uniform(0.5, 1.0)
    return _lighten(img, holes)


def thin(img, rng, scale):
    k = max(2, int(round(0.06 * scale)))
    if scale < 16 and rng.random() < 0.7:
        return img
    return cv2.dilate(img, np.ones((k, k), np.uint8))  # light paper grows: faded, thin strokes


def binarize(img, rng, scale):
    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if rng.random() < 0.5:
        _, b = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    else:
        block = int(max(3, (2 * int(scale) + 1) | 1))
        b = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, rng.uniform(5, 20))
    return b if img.ndim == 2 else np.repeat(b[..., None], 3, axis=2)


_BAYER = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) + 0.5) / 16.0


def dither(img, rng, scale):
    """Fax-style ordered dithering: grey areas (and soft edges) become dot patterns."""
    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    h, w = g.shape
    t = np.tile(_BAYER, (h // 4 + 1, w // 4 + 1))[:h, :w]
    b = np.where(g.astype(np.float32) / 255.0 > t, 255, 0).astype(np.uint8)
    return b if img.ndim == 2 else np.repeat(b[..., None], 3, axis=2)


def fax_resolution(img, rng, scale):
    """Fax 'standard' mode: vertical resolution halved, then stretched back with nearest neighbour."""
    h, w = img.shape[:2]
    lo = min(0.95, max(0.45, 10.0 / max(scale, 1.0)))  # keep at least ~10 rows across a text line
    fy = rng.uniform(lo, max(lo, 0.75))
    fx = rng.uniform(0.7, 1.0)
    small = cv2.resize(img, (max(1, int(w * fx)), max(1, int(h * fy))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def streaks(img, rng, scale):
    """Thin vertical (thermal head / scanner bar) or horizontal (fax line) streaks."""
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    vertical = rng.random() < 0.6
    n = int(rng.integers(1, 8))
    for _ in range(n):
        width = int(rng.integers(1, 4))
        pos = int(rng.integers(0, (w if vertical else h) - width + 1))
        val = rng.uniform(-90, 120)
        sl = np.s_[:, pos:pos + width] if vertical else np.s_[pos:pos + width, :]
        out[sl] = out[sl] + val
    return _u8(out)


def dark_border(img, rng, scale):
    """Photocopy edge: a dark band along one or two page edges."""
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    for _ in range(int(rng.integers(1, 3))):
        side = int(rng.integers(4))
        n = int(rng.integers(2, max(3, (h if side < 2 else w) // 40)))
        dark = rng.uniform(20, 90)
        sl = [np.s_[:n, :], np.s_[-n:, :], np.s_[:, :n], np.s_[:, -n:]][side]
        out[sl] = np.minimum(out[sl], dark)
    return _u8(out)


def fade(img, rng, scale):
    """Thermal paper ageing: ink goes grey, unevenly."""
    f = rng.uniform(0.25, 0.6) * _smooth_field(img.shape[:2], rng, 4) + rng.uniform(0.0, 0.25)
    return _lighten(img, f)


def vignette(img, rng, scale):
    h, w = img.shape[:2]
    k = rng.uniform(0.1, 0.35)
    f = _low_res((h, w), lambda yy, xx: 1.0 - k * np.clip((((xx - w / 2) / (w / 2)) ** 2
                                                            + ((yy - h / 2) / (h / 2)) ** 2) / 2, 0, 1))
    return _mul(img, f)


def handwriting(img: np.ndarray, rng: np.random.Generator, scale: float, n: int | None = None) -> np.ndarray:
    """Pen marks over the page: scribbled strokes, ticks, circles and underlines in blue, black or red."""
    out = img.copy()
    h, w = img.shape[:2]
    colors = ((30, 40, 150), (20, 20, 25), (170, 25, 30), (20, 60, 120))
    for _ in range(n if n is not None else int(rng.integers(1, 5))):
        c = colors[int(rng.integers(len(colors)))]
        color = c if img.ndim == 3 else int(np.mean(c))
        t = max(1, int(rng.uniform(0.06, 0.16) * scale))
        kind = rng.random()
        cx, cy = rng.uniform(0.05, 0.95) * w, rng.uniform(0.05, 0.95) * h
        size = rng.uniform(1.0, 5.0) * scale
        if kind < 0.4:  # a scribble: a wobbly polyline through a few random control points
            k = int(rng.integers(4, 9))
            xs = cx + np.cumsum(rng.uniform(0.2, 1.0, k)) * size / 2
            ys = cy + rng.normal(0, size / 4, k)
            xi = np.linspace(xs[0], xs[-1], 8 * k)
            yi = np.interp(xi, xs, ys) + np.sin(np.linspace(0, rng.uniform(6, 20), 8 * k)) * size / 8
            pts = np.stack([xi, yi], 1).astype(np.int32)
            cv2.polylines(out, [pts], False, color, t, cv2.LINE_AA)
        elif kind < 0.6:  # a tick
            p = np.array([[cx, cy], [cx + size / 4, cy + size / 3], [cx + size, cy - size / 2]], np.int32)
            cv2.polylines(out, [p], False, color, t, cv2.LINE_AA)
        elif kind < 0.8:  # a loose circle or ellipse around something
            cv2.ellipse(out, (int(cx), int(cy)), (int(size), int(size * rng.uniform(0.3, 0.7))),
                        rng.uniform(-15, 15), rng.uniform(0, 40), rng.uniform(300, 380), color, t, cv2.LINE_AA)
        else:  # an underline
            x1 = cx + rng.uniform(2, 8) * scale
            cv2.line(out, (int(cx), int(cy)), (int(x1), int(cy + rng.normal(0, scale / 6))), color, t, cv2.LINE_AA)
    return out


def ink_contrast(clean: np.ndarray, degraded: np.ndarray) -> float:
    """How well ink still stands out after degradation: a d' between the ink and its 1-px surround.

    ``clean`` is the same crop before degradation (same geometry). Ink = pixels far from the clean
    image's paper level; the surround = the ring one pixel outside it. The score is
    ``|mean(ring) - mean(ink)| / sqrt((var(ink) + var(ring)) / 2 + 1)`` on the degraded image: blur
    (strokes lighten, gaps darken), noise, fading and bleeding ink (counters fill) all lower it, while
    an even change of contrast or a lighting field far from the text barely does. On the line
    generator's output, lines under ~0.5 were mostly unreadable to a person.
    """
    c = clean if clean.ndim == 2 else cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY)
    d = degraded if degraded.ndim == 2 else cv2.cvtColor(degraded, cv2.COLOR_RGB2GRAY)
    if c.shape != d.shape:
        raise ValueError(f"clean {c.shape} and degraded {d.shape} images differ in size")
    c, d = c.astype(np.float32), d.astype(np.float32)
    ink = (np.abs(c - np.median(c)) > 64).astype(np.uint8)
    if int(ink.sum()) < 4:
        return 0.0
    ring = cv2.dilate(ink, np.ones((3, 3), np.uint8)) - ink
    if not ring.any():
        return 0.0
    a, b = d[ink > 0], d[ring > 0]
    return float(abs(b.mean() - a.mean()) / np.sqrt((a.var() + b.var()) / 2.0 + 1.0))


# profile -> list of (probability, effect); applied in order
_CHAINS = {
    "clean": [(1.0, paper), (0.5, blur), (0.5, noise), (0.3, jpeg)],
    "scan": [(1.0, paper), (0.4, ink_bleed), (0.3, broken), (0.4, low_contrast), (0.8, blur), (0.8, noise),
             (0.2, salt_pepper), (0.5, jpeg)],
    "fax": [(0.5, blur), (0.6, fax_resolution), (1.0, binarize), (0.4, dither), (0.5, salt_pepper),
            (0.3, streaks), (0.3, broken), (0.5, ink_bleed), (0.3, jpeg)],
    "photocopy": [(0.5, ink_bleed), (0.5, broken), (0.6, low_contrast), (0.6, dark_border), (0.7, noise),
                  (0.7, salt_pepper), (0.5, blur), (0.3, jpeg)],
    "photo": [(1.0, paper), (1.0, lighting), (0.7, color_cast), (0.6, vignette), (0.6, blur), (0.3, motion_blur),
              (0.8, noise), (0.9, jpeg)],
    "thermal": [(0.7, thin), (1.0, fade), (0.5, streaks), (0.6, low_contrast), (0.6, blur), (0.6, noise),
                (0.5, jpeg)],
}


def degrade(img: np.ndarray, rng: np.random.Generator, scale: float, profile: str | None = None,
            weights: dict[str, float] | None = None) -> tuple[np.ndarray, str]:
    """Apply one profile's chain to ``img``; returns the degraded image and the profile's name."""
    if profile is None:
        names = list(weights) if weights else list(PROFILES)
        p = np.array([weights[n] for n in names] if weights else [1.0] * len(names), float)
        profile = names[int(rng.choice(len(names), p=p / p.sum()))]
    if profile not in _CHAINS:
        raise ValueError(f"unknown degradation profile {profile!r}; choose from {', '.join(PROFILES)}")
    rgb = img.ndim == 3
    if rgb and (profile in ("fax", "photocopy", "thermal") or (profile in ("clean", "scan") and rng.random() < 0.5)):
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)  # these arrive as grayscale scans
    for prob, fn in _CHAINS[profile]:
        if rng.random() < prob:
            img = fn(img, rng, scale)
    if rgb and img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    return img, profile
