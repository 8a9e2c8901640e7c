"""Page-set folders: one image plus one JSON of line ground truth per page (the ``shared/data/real`` format).

```
{"image": "000.jpg", "width": 463, "height": 1013, "lines": [{"box": [x0, y0, x1, y1],
  "quad": [[x, y] x4]?, "text": "...", "ignore": false}, ...], ...}
```
The synthetic writers produce the same format, so evaluation and training read real and synthetic pages
alike. :func:`split` holds the one rule for validation pages: the *last* ``n`` pages by file name (40 for
SROIE, 30 for FUNSD, 10 % elsewhere) are validation; training must never read them. :func:`image` reads a
page as the page pipeline does (EXIF-upright RGB), and :func:`gt_crops` cuts its ground-truth boxes.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PageRecord", "GtLine", "read", "unlabelled", "split", "image", "gt_crops", "write", "render", "VAL_LAST"]

VAL_LAST = {"sroie": 40, "funsd": 30}


@dataclass(frozen=True)
class GtLine:
    box: tuple[float, float, float, float]
    text: str
    ignore: bool = False
    quad: tuple | None = None


@dataclass(frozen=True)
class PageRecord:
    name: str           # file stem, e.g. "000"
    image: Path
    width: int
    height: int
    lines: tuple[GtLine, ...]
    labelled: bool = True   # False: an image without a JSON (:func:`unlabelled`), nothing to score against


def _parse(json_path: Path) -> PageRecord:
    try:
        d = json.loads(json_path.read_text(encoding="utf-8"))
        lines = tuple(GtLine(tuple(float(v) for v in ln["box"]), str(ln.get("text", "")), bool(ln.get("ignore", False)),
                             tuple(tuple(p) for p in ln["quad"]) if ln.get("quad") else None)
                      for ln in d.get("lines", []))
        return PageRecord(json_path.stem, json_path.parent / d["image"], int(d["width"]), int(d["height"]), lines)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{json_path}: not a page-set JSON ({exc})") from None


def read(folder: str | Path) -> list[PageRecord]:
    """Every page of ``folder`` whose JSON names an existing image, sorted by file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such page-set folder")
    pages = [_parse(p) for p in sorted(folder.glob("*.json"))]
    pages = [p for p in pages if p.image.is_file()]
    if not pages:
        raise ValueError(f"{folder}: no pages (expected image files with one JSON each)")
    return pages


UNLABELLED_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")


def unlabelled(folder: str | Path) -> list[PageRecord]:
    """The images of ``folder`` as pages without ground truth (``labelled=False``, size 0 until read), sorted
    by file name: a folder of photos that can be timed but not scored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such page-set folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in UNLABELLED_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise ValueError(f"{folder}: no pages (no image files and no page-set JSONs)")
    return [PageRecord(p.stem, p, 0, 0, (), labelled=False) for p in files]


def split(pages: list[PageRecord], which: str, set_name: str | None = None, val_last: int | None = None) -> list[PageRecord]:
    """``which`` = ``all`` | ``train`` | ``val``; validation is the last ``val_last`` pages by name."""
    if which == "all":
        return list(pages)
    if which not in ("train", "val"):
        raise ValueError(f"split must be all, train or val, got {which!r}")
    n = val_last if val_last is not None else VAL_LAST.get((set_name or "").lower(), max(1, len(pages) // 10))
    n = min(n, len(pages))
    pages = sorted(pages, key=lambda p: p.name)
    return pages[len(pages) - n:] if which == "val" else pages[:len(pages) - n]


def image(page: PageRecord):
    """The page's image as RGB ``uint8`` (H,W,3), EXIF orientation applied: the pixels its boxes are in, the
    same array ``pipeline.images.load`` gives for a page-set image (8-bit JPEG or PNG, gray or colour)."""
    import numpy as np
    from PIL import Image, ImageOps

    try:
        with Image.open(page.image) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.uint8).copy()
    except OSError as exc:
        raise ValueError(f"{page.image}: cannot read image ({exc})") from None


def gt_crops(pages: list[PageRecord], margin: int = 2):
    """(crop RGB, text) for every non-ignored, non-empty ground-truth box, cut with ``margin`` pixels."""
    import numpy as np

    for page in pages:
        img = None
        for ln in page.lines:
            if ln.ignore or not ln.text.strip():
                continue
            if img is None:
                img = image(page)
            h, w = img.shape[:2]
            x0, y0, x1, y1 = ln.box
            x0, y0 = max(0, int(np.floor(x0)) - margin), max(0, int(np.floor(y0)) - margin)
            x1, y1 = min(w, int(np.ceil(x1)) + margin), min(h, int(np.ceil(y1)) + margin)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            yield img[y0:y1, x0:x1], ln.text


def write(folder: str | Path, name: str, image, record: dict, ext: str = ".png") -> Path:
    """Write ``name+ext`` and ``name.json`` into ``folder`` atomically (temp file, then rename)."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    img_path = folder / f"{name}{ext}"
    tmp = folder / f".{name}.tmp{ext}"
    bgr = image[..., ::-1] if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if ext.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(tmp), bgr, params):
        raise OSError(f"{img_path}: could not write image")
    os.replace(tmp, img_path)
    rec = dict(record, image=img_path.name)
    jtmp = folder / f".{name}.tmp.json"
    jtmp.write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    os.replace(jtmp, folder / f"{name}.json")
    return img_path


def _render_chunk(args) -> int:
    seed, start, count, cfg_file, folder = args
    from synth.config import load as load_synth
    from synth.pages import PageGenerator

    cfg = load_synth(cfg_file)
    gen = PageGenerator(cfg.page, seed=seed, lang=cfg.lang)
    for i in range(start, start + count):
        p = gen.page(i)
        write(Path(folder), f"{seed}_{i:06d}", p.image, p.to_json(f"{seed}_{i:06d}.png"))
    return count


def render(n: int, seed: int, cfg_file: str, cache_dir: Path, workers: int, progress: bool = True) -> Path:
    """A page-set folder of ``n`` synthetic pages of the synth YAML ``cfg_file`` (a path, or one relative to
    ``configs/``), rendered once into ``cache_dir`` (keyed by every input) and reused; a killed render is
    finished, not restarted. Both models' training reads its pages."""
    from multiprocessing import get_context

    from tqdm import tqdm

    import configs

    cfg_path = Path(cfg_file) if Path(cfg_file).is_file() else configs.path(cfg_file)
    key = hashlib.sha1(f"{n}|{seed}|{cfg_path.read_text()}".encode()).hexdigest()[:12]
    folder = Path(cache_dir) / f"pages_{seed}_{n}_{key}"
    done = folder / "COMPLETE"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    chunk = 20
    jobs = [(seed, s, min(chunk, n - s), str(cfg_path), str(folder)) for s in range(0, n, chunk)
            if not all((folder / f"{seed}_{i:06d}.json").is_file() for i in range(s, min(n, s + chunk)))]
    bar = tqdm(total=n, initial=n - sum(j[2] for j in jobs), desc="synth pages", unit="page", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with get_context("spawn").Pool(workers) as pool:
            for part in pool.imap_unordered(_render_chunk, jobs):
                bar.update(part)
    else:
        for j in jobs:
            _render_chunk(j)
            bar.update(j[2])
    bar.close()
    done.write_text(f"{n}\n")
    return folder

