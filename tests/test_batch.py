"""pipeline.batch: planning, resume, failures and safety, with a stand-in OCR (no models needed)."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from pipeline import batch
from pipeline.result import Line, Page


class FakeOCR:
    """Reads every page as one line naming its source, page and size; counts what it was asked to read."""

    def __init__(self):
        self.calls = []

    def check_pages(self):
        pass

    def read_arrays(self, rgbs, sources, pages):
        self.calls.append((sources[0], list(pages)))
        return [Page(a.shape[1], a.shape[0], [Line([0, 0, 5, 5], f"{s} p{p} {a.shape[1]}x{a.shape[0]}", 0.9)], source=s, page=p)
                for a, s, p in zip(rgbs, sources, pages)]


def _img(path, w=40, h=30, frames=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    ims = [Image.fromarray(np.full((h, w, 3), 40 * k, np.uint8)) for k in range(frames)]
    ims[0].save(path, save_all=frames > 1, append_images=ims[1:])


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "in"
    _img(src / "a.png")
    _img(src / "sub" / "b.jpg", 50, 20)
    _img(src / "sub" / "deeper" / "c.tif", frames=3)
    _img(src / "same.png")
    _img(src / "same.jpg")
    (src / "notes.md").write_text("not an input")
    (src / ".hidden.png").write_bytes(b"")
    (src / "broken.jpg").write_bytes(b"this is not a jpeg")
    return src


def test_plan_mirrors_the_tree_and_keeps_colliding_names_apart(tree, tmp_path):
    jobs = batch.plan(tree, tmp_path / "out", ["txt", "alto"])
    out = tmp_path / "out"
    got = {j.rel: sorted(str(p.relative_to(out)) for p in j.outputs.values()) for j in jobs}
    assert got == {"a.png": ["a.txt", "a.xml"], "broken.jpg": ["broken.txt", "broken.xml"],
                   "same.jpg": ["same.jpg.txt", "same.jpg.xml"], "same.png": ["same.png.txt", "same.png.xml"],
                   "sub/b.jpg": ["sub/b.txt", "sub/b.xml"], "sub/deeper/c.tif": ["sub/deeper/c.txt", "sub/deeper/c.xml"]}


def test_output_inside_input_is_refused(tree):
    with pytest.raises(batch.BatchError, match="inside"):
        batch.plan(tree, tree / "out", ["txt"])
    with pytest.raises(batch.BatchError, match="inside"):
        batch.plan(tree, tree, ["txt"])
    with pytest.raises(batch.BatchError, match="no such folder"):
        batch.plan(tree / "missing", tree.parent / "o", ["txt"])


def test_a_link_loop_ends(tree, tmp_path):
    os.symlink(tree, tree / "sub" / "loop")                   # sub/loop -> in (contains sub again)
    rels = [str(p) for p in batch.find_inputs(tree)]
    assert rels.count("a.png") == 1 and len(rels) == len(set(rels))


def test_batch_converts_reports_failures_and_resumes(tree, tmp_path):
    out = tmp_path / "out"
    jobs = batch.plan(tree, out, ["txt", "json"])
    ocr = FakeOCR()
    rep = batch.run_batch(jobs, out, ocr, progress=False)
    assert (rep.converted, rep.skipped, rep.pages) == (5, 0, 7)           # c.tif has 3 pages
    assert list(rep.failed) == ["broken.jpg"] and "broken.jpg" in rep.failed["broken.jpg"]
    assert (out / "sub" / "deeper" / "c.txt").read_text() == (
        "sub/deeper/c.tif p0 40x30\fsub/deeper/c.tif p1 40x30\fsub/deeper/c.tif p2 40x30\n")
    assert [d["page"] for d in json.loads((out / "sub" / "deeper" / "c.json").read_text())] == [0, 1, 2]
    assert json.loads((out / batch.REPORT).read_text())["failed"][0]["input"] == "broken.jpg"
    assert not (out / "broken.txt").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]      # no temporary files left
    # resume: nothing that is complete is read again; the broken file is tried again
    (out / "a.json").unlink()
    ocr2 = FakeOCR()
    rep2 = batch.run_batch(batch.plan(tree, out, ["txt", "json"]), out, ocr2, progress=False)
    assert [c[0] for c in ocr2.calls] == ["a.png"]
    assert (rep2.converted, rep2.skipped, list(rep2.failed)) == (1, 4, ["broken.jpg"])
    rep3 = batch.run_batch(batch.plan(tree, out, ["txt", "json"]), out, FakeOCR(), overwrite=True, progress=False)
    assert rep3.converted == 5


def test_pages_of_a_document_are_read_in_chunks(tree, tmp_path):
    ocr = FakeOCR()
    job = next(j for j in batch.plan(tree, tmp_path / "o", ["txt"]) if j.rel.endswith("c.tif"))
    assert batch.convert(ocr, job, chunk=2) == 3
    assert ocr.calls == [("sub/deeper/c.tif", [0, 1]), ("sub/deeper/c.tif", [2])]


def test_a_pdf_gives_one_page_per_page_and_a_searchable_pdf(tmp_path):
    from fpdf import FPDF

    src = tmp_path / "in"
    src.mkdir()
    pdf = FPDF(unit="pt")
    for _ in range(3):
        pdf.add_page(format=(144, 72))
    (src / "doc.pdf").write_bytes(bytes(pdf.output()))
    out = tmp_path / "out"
    rep = batch.run_batch(batch.plan(src, out, ["json", "pdf"]), out, FakeOCR(), progress=False)
    assert (rep.converted, rep.pages) == (1, 3)
    pages = json.loads((out / "doc.json").read_text())
    assert [p["page"] for p in pages] == [0, 1, 2] and pages[0]["width"] == 600      # 2 in at 300 dpi
    import io

    import pypdf

    reader = pypdf.PdfReader(io.BytesIO((out / "doc.pdf").read_bytes()))
    assert len(reader.pages) == 3 and "doc.pdf p2 600x300" in reader.pages[2].extract_text()


DRIVER = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from pipeline import batch
from pipeline.result import Line, Page

class SlowOCR:
    def check_pages(self):
        pass
    def read_arrays(self, rgbs, sources, pages):
        with open({log!r}, "a") as fh:
            fh.write(sources[0] + "\\n")
        time.sleep(0.12)
        return [Page(a.shape[1], a.shape[0], [Line([0, 0, 5, 5], f"{{s}} {{int(a.mean())}}", 0.9)], source=s, page=p)
                for a, s, p in zip(rgbs, sources, pages)]

out = Path(sys.argv[1])
batch.run_batch(batch.plan(Path({src!r}), out, ["txt", "json", "pdf"]), out, SlowOCR(), progress=False)
"""


def test_a_killed_batch_resumes_without_partial_outputs_or_repeats(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    src = tmp_path / "in"
    for k in range(14):
        _img(src / f"p{k:02d}.png", 60, 40 + k)
    root = str(Path(__file__).resolve().parents[1])
    log = tmp_path / "read.log"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=root, log=str(log), src=str(src)))
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, str(script), str(ref)], check=True, timeout=120)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(script), str(out)])
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("*.pdf"))) < 4:    # kill part-way through
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sorted(p.stem for p in out.glob("*.pdf"))
    assert 4 <= len(finished) < 14
    for p in out.iterdir():                                              # what is there is whole
        if p.suffix == ".json":
            json.loads(p.read_text())
    log.write_text("")
    subprocess.run([sys.executable, str(script), str(out)], check=True, timeout=120)
    reread = log.read_text().split()
    assert not set(reread) & {f + ".png" for f in finished if (out / f"{f}.txt").exists() and (out / f"{f}.json").exists()}
    assert not [p.name for p in out.iterdir() if p.name.endswith(".part")]
    names = sorted(p.name for p in ref.iterdir() if p.name != batch.REPORT)
    assert sorted(p.name for p in out.iterdir() if p.name != batch.REPORT) == names
    for n in names:                                  # PDFs too: their date is the input file's
        assert (out / n).read_bytes() == (ref / n).read_bytes(), n


def test_ocr_batch_hands_the_confidence_floor_to_every_worker(tree, tmp_path, monkeypatch):
    import pipeline
    from pipeline import cli

    loads, runs, orients, backends = [], [], [], []

    def fake_load(config=None, device="cpu", threads=None, min_confidence=None, orientation=None, lang=None,
                  backend=None):
        loads.append(min_confidence)
        orients.append(orientation)
        backends.append(backend)
        return FakeOCR()

    def fake_run(jobs, out_dir, ocr, workers, overwrite, load_args, progress, runner=None):
        runs.append(load_args)
        batch._init_worker(*load_args)                   # what each worker process runs first
        return batch.BatchReport()

    monkeypatch.setattr(pipeline, "load", fake_load)
    monkeypatch.setattr(batch, "run_batch", fake_run)
    assert cli.ocr_batch([str(tree), str(tmp_path / "out"), "--workers", "2", "--min-confidence", "0.2",
                          "--quiet"]) == 0
    assert loads == [0.2, 0.2] and runs[0][3] == 0.2
    assert cli.ocr_batch([str(tree), str(tmp_path / "out2"), "--quiet"]) == 0
    assert loads[2:] == [None, None]                     # not given: the config's layout.min_confidence
    assert cli.ocr_batch([str(tree), str(tmp_path / "out3"), "--workers", "2", "--orientation", "none", "--quiet"]) == 0
    assert orients == [None] * 4 + ["none", "none"] and runs[-1][4] == "none"   # and --orientation likewise
    assert cli.ocr_batch([str(tree), str(tmp_path / "out4"), "--workers", "2", "--backend", "onnx", "--quiet"]) == 0
    assert backends == [None] * 6 + ["onnx", "onnx"] and runs[-1][6] == "onnx"    # and --backend
