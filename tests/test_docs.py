"""The README is a front page and the docs quote only what the benchmarks wrote (issue 35)."""
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tables():
    spec = importlib.util.spec_from_file_location("tables", ROOT / "benchmarks" / "tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 250
    first_screen = "\n".join(lines[:45])
    assert "bash scripts/setup.sh && " in first_screen and "bash scripts/setup.sh --test && " in first_screen
    assert "<!-- table:pages -->" in first_screen and "tok_F" in first_screen
    assert sum("stage" in ln.lower() for ln in lines) == 0          # history lives in docs/training.md


def test_every_figure_block_is_what_the_benchmarks_last_wrote():
    tables = _tables()
    for doc in tables.DOCS:
        text = doc.read_text(encoding="utf-8")
        assert tables.render(text) == text, f"{doc.name}: run python benchmarks/tables.py"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = readme.replace("| **this project** |", "| **this project** | 9.999 |", 1)   # a hand-edited figure
    assert tables.render(stale) != stale


def test_the_comparison_table_carries_the_json_figures():
    import json

    table = _tables().pages()
    for r in json.loads((ROOT / "benchmarks/figures/pages_val.json").read_text())["results"]:
        if "tok_F" in r:                                  # the photos have no ground truth: s/page only
            assert f"| {r['tok_F']:.3f} | {r['seg_CER']:.3f} |" in table
        assert f"| {r['s_per_page']:.2f} |" in table


def test_links_and_paths_in_the_docs_exist():
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"
        for path in re.findall(r"`((?:configs|benchmarks|docs|samples|scripts)/[\w./-]+\.(?:yaml|py|md|json|png|txt|jpg))`", text):
            if "NAME" not in path:
                assert (ROOT / path).exists(), f"{doc.name}: {path} does not exist"
