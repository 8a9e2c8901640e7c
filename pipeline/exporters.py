"""Exports of :class:`pipeline.result.Page` lists: txt, json, hOCR, ALTO v4, TSV and searchable PDF.

Every function takes the pages of one input (one page for an image, several for a multi-page TIFF or a
PDF) and returns the file's bytes; :func:`export` picks one by format name and :func:`format_of` by file
suffix. The XML formats are built with :mod:`xml.etree.ElementTree`, so text and attributes are escaped
(a recognized ``<script>`` or ``&`` stays text), and characters XML forbids (control codes) are dropped.

- ``txt``: page text in reading order; pages separated by a form feed (as Tesseract and pdftotext do).
- ``json``: schema ``ocr-page/1`` (:meth:`Page.to_dict`): one object for a one-page input, a list of
  them for a multi-page one.
- ``hocr``: XHTML with ``ocr_page`` / ``ocr_carea`` / ``ocr_par`` / ``ocr_line`` / ``ocrx_word``, ``bbox``
  and ``x_wconf`` (0-100); ``lang`` is the first page's language (``Page.lang``), and a page read in
  another language carries its own.
- ``alto``: ALTO 4.4 (``Page`` / ``PrintSpace`` / ``TextBlock`` / ``TextLine`` / ``String`` + ``SP``), pixels,
  ``WC`` 0-1, each ``TextBlock``'s ``LANG`` its page's language.
- ``tsv``: Tesseract's columns (level 1 page, 2 block, 3 paragraph, 4 line, 5 word; ``conf`` -1 except on
  words).
- ``pdf``: :func:`pipeline.pdf.searchable_pdf`, the page images with an invisible text layer.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:                   # annotations only: pipeline.result imports this module (Page.save)
    from pipeline.result import Line, Page

__all__ = ["FORMATS", "SUFFIXES", "export", "format_of", "file_date", "write_atomic", "json_bytes", "display_name",
           "to_txt", "to_json", "to_hocr", "to_alto", "to_tsv"]

FORMATS = ("txt", "json", "hocr", "alto", "tsv", "pdf")
SUFFIXES = {".txt": "txt", ".json": "json", ".hocr": "hocr", ".html": "hocr", ".xhtml": "hocr",
            ".xml": "alto", ".alto": "alto", ".tsv": "tsv", ".pdf": "pdf"}
SOFTWARE = "ocr-page"

_UMASK = os.umask(0o022)
os.umask(_UMASK)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
NAME_MAX = 255                      # bytes in one file name (ext4, XFS, Btrfs, APFS, NTFS in UTF-16 units)


def json_bytes(obj, **kw) -> bytes:
    """``obj`` as UTF-8 JSON. A file name that is not UTF-8 (Linux allows any bytes) reaches Python as a
    str with lone surrogates (``surrogateescape``: byte 0xff is U+DCFF); those are written as ``\\udcff``
    escapes, so the file stays valid UTF-8 and ``os.fsencode(json.loads(...)[...])`` gives back the exact
    bytes."""
    text = json.dumps(obj, ensure_ascii=False, **kw)           # non-ASCII appears inside strings only
    return _SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), text).encode("utf-8")


def display_name(name: str) -> str:
    """A file name as text a person can read, where the format cannot hold its bytes losslessly (XML):
    bytes that are not UTF-8 as ``\\xff``."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:                                  # a surrogate no byte decodes to
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(s: str) -> str:
    return _XML_ILLEGAL.sub("", s)


def _ibox(box) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))


def format_of(path: str | Path) -> str:
    """Format name for an output file's suffix (``.hocr`` -> ``hocr``); ValueError for an unknown one."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: unknown output suffix {suffix or '(none)'!r}; use one of "
                         + ", ".join(sorted(SUFFIXES)))
    return SUFFIXES[suffix]


def export(pages: list[Page], fmt: str, images=None, created=None) -> bytes:
    """The bytes of ``pages`` in format ``fmt``; ``images`` (RGB arrays, one per page) and ``created``
    (the document date, a datetime; default now) only for ``pdf``."""
    if fmt == "pdf":
        from pipeline.pdf import searchable_pdf

        return searchable_pdf(pages, images, created=created)
    fn = {"txt": to_txt, "json": to_json, "hocr": to_hocr, "alto": to_alto, "tsv": to_tsv}.get(fmt)
    if fn is None:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return fn(pages)


def file_date(path) -> datetime | None:
    """The modification time of the file at ``path`` (UTC), or None when it is not a readable file."""
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc)
    except (OSError, TypeError, ValueError):
        return None


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so a killed
    run leaves either the old file or the complete new one, never half of one."""
    path = Path(path)
    stem = path.name                   # the temporary name must fit NAME_MAX too: "." + stem + ".XXXXXXXX.part"
    while len(os.fsencode(stem)) > NAME_MAX - 15:
        stem = stem[:-1]
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)                        # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---- txt / json ---------------------------------------------------------------------------------------
def to_txt(pages: list[Page]) -> bytes:
    return ("\f".join(p.text for p in pages) + "\n").encode("utf-8")


def to_json(pages: list[Page]) -> bytes:
    obj = pages[0].to_dict() if len(pages) == 1 else [p.to_dict() for p in pages]
    return json_bytes(obj) + b"\n"


def _blocks(page: Page) -> list[tuple[list[float], list[Line]]]:
    """(box, lines) per block in reading order; lines of a page without blocks form one block each."""
    if page.blocks:
        return [(b.box, [page.lines[i] for i in b.lines]) for b in page.blocks]
    return [(ln.box, [ln]) for ln in page.lines]


# ---- hOCR ---------------------------------------------------------------------------------------------
def to_hocr(pages: list[Page]) -> bytes:
    lang = pages[0].lang if pages else "en"           # the document's language; a page read in another says so
    html = ET.Element("html", {"xmlns": "http://www.w3.org/1999/xhtml", "xml:lang": lang, "lang": lang})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = (_clean(display_name(pages[0].source or "")) if pages else "") or "OCR output"
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": SOFTWARE})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities",
                                 "content": "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf ocrp_lang"})
    ET.SubElement(head, "meta", {"name": "ocr-langs", "content": " ".join(dict.fromkeys(p.lang for p in pages)) or lang})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(pages))})
    body = ET.SubElement(html, "body")
    for pn, page in enumerate(pages, 1):
        src = _clean(display_name(page.source or "")).replace('"', "")
        title = (f'image "{src}"; ' if src else "") + f"bbox 0 0 {page.width} {page.height}; ppageno {page.page}"
        pdiv = ET.SubElement(body, "div", {"class": "ocr_page", "id": f"page_{pn}", "title": title,
                                           **({"xml:lang": page.lang, "lang": page.lang} if page.lang != lang else {})})
        nl = nw = 0
        for bn, (bbox, lines) in enumerate(_blocks(page), 1):
            bb = "bbox %d %d %d %d" % _ibox(bbox)
            area = ET.SubElement(pdiv, "div", {"class": "ocr_carea", "id": f"block_{pn}_{bn}", "title": bb})
            par = ET.SubElement(area, "p", {"class": "ocr_par", "id": f"par_{pn}_{bn}", "title": bb})
            for ln in lines:
                nl += 1
                x0, y0, x1, y1 = _ibox(ln.box)
                span = ET.SubElement(par, "span", {"class": "ocr_line", "id": f"line_{pn}_{nl}",
                                                   "title": f"bbox {x0} {y0} {x1} {y1}; x_size {y1 - y0}"})
                for w in ln.words or []:
                    nw += 1
                    ws = ET.SubElement(span, "span", {"class": "ocrx_word", "id": f"word_{pn}_{nw}",
                                                      "title": "bbox %d %d %d %d; x_wconf %d"
                                                      % (*_ibox(w.box), round(100 * w.confidence))})
                    ws.text = _clean(w.text)
                    ws.tail = " "
                if not ln.words:
                    span.text = _clean(ln.text)
    ET.indent(html, " ")
    doctype = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
               '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n')
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype.encode()
            + ET.tostring(html, encoding="utf-8", xml_declaration=False) + b"\n")


# ---- ALTO v4 ------------------------------------------------------------------------------------------
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"


def _pos(box) -> dict[str, str]:
    x0, y0, x1, y1 = _ibox(box)
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(max(0, x1 - x0)), "HEIGHT": str(max(0, y1 - y0))}


def to_alto(pages: list[Page]) -> bytes:
    alto = ET.Element("alto", {"xmlns": ALTO_NS, "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                               "xsi:schemaLocation": f"{ALTO_NS} http://www.loc.gov/alto/v4/alto-4-4.xsd"})
    desc = ET.SubElement(alto, "Description")
    ET.SubElement(desc, "MeasurementUnit").text = "pixel"
    info = ET.SubElement(desc, "sourceImageInformation")
    ET.SubElement(info, "fileName").text = _clean(display_name(pages[0].source or "")) if pages else ""
    proc = ET.SubElement(ET.SubElement(desc, "OCRProcessing", {"ID": "OCR_0"}), "ocrProcessingStep")
    ET.SubElement(ET.SubElement(proc, "processingSoftware"), "softwareName").text = SOFTWARE
    layout = ET.SubElement(alto, "Layout")
    for pn, page in enumerate(pages):
        pg = ET.SubElement(layout, "Page", {"ID": f"page_{pn}", "PHYSICAL_IMG_NR": str(pn + 1),
                                            "WIDTH": str(page.width), "HEIGHT": str(page.height)})
        space = ET.SubElement(pg, "PrintSpace", _pos([0, 0, page.width, page.height]))
        nl = nw = 0
        for bn, (bbox, lines) in enumerate(_blocks(page)):
            blk = ET.SubElement(space, "TextBlock", {"ID": f"block_{pn}_{bn}", **_pos(bbox), "LANG": page.lang})
            for ln in lines:
                tl = ET.SubElement(blk, "TextLine", {"ID": f"line_{pn}_{nl}", **_pos(ln.box)})
                nl += 1
                words = ln.words or []
                for k, w in enumerate(words):
                    if k:
                        prev = words[k - 1].box
                        x0, y0 = _ibox(prev)[2], _ibox(prev)[1]
                        ET.SubElement(tl, "SP", {"WIDTH": str(max(0, _ibox(w.box)[0] - x0)), "HPOS": str(x0),
                                                 "VPOS": str(y0)})
                    ET.SubElement(tl, "String", {"ID": f"string_{pn}_{nw}", **_pos(w.box), "WC": f"{w.confidence:.2f}",
                                                 "CONTENT": _clean(w.text)})
                    nw += 1
                if not words and ln.text:
                    ET.SubElement(tl, "String", {"ID": f"string_{pn}_{nw}", **_pos(ln.box),
                                                 "WC": f"{ln.confidence:.2f}", "CONTENT": _clean(ln.text)})
                    nw += 1
    ET.indent(alto, " ")
    return ET.tostring(alto, encoding="utf-8", xml_declaration=True) + b"\n"


# ---- TSV ----------------------------------------------------------------------------------------------
TSV_COLUMNS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num",
               "left", "top", "width", "height", "conf", "text")


def _tsv_text(s: str) -> str:
    return " ".join(s.split())              # tabs and newlines would break the columns


def to_tsv(pages: list[Page]) -> bytes:
    rows = ["\t".join(TSV_COLUMNS)]

    def row(level, p, b, par, ln, w, box, conf, text=""):
        x0, y0, x1, y1 = _ibox(box)
        rows.append("\t".join(map(str, (level, p, b, par, ln, w, x0, y0, x1 - x0, y1 - y0, conf, text))))

    for pn, page in enumerate(pages, 1):
        row(1, pn, 0, 0, 0, 0, [0, 0, page.width, page.height], -1)
        for bn, (bbox, lines) in enumerate(_blocks(page), 1):
            row(2, pn, bn, 0, 0, 0, bbox, -1)
            row(3, pn, bn, 1, 0, 0, bbox, -1)
            for lnum, ln in enumerate(lines, 1):
                row(4, pn, bn, 1, lnum, 0, ln.box, -1)
                words = ln.words or ([ln] if ln.text else [])   # an unsplit line is one word
                for wn, w in enumerate(words, 1):
                    row(5, pn, bn, 1, lnum, wn, w.box, f"{100 * w.confidence:.2f}", _tsv_text(w.text))
    return ("\n".join(rows) + "\n").encode("utf-8")
