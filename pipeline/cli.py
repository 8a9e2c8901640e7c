"""Console scripts: ``ocr-page``, ``ocr-batch``, ``ocr-train``, ``ocr-eval``, ``ocr-synth``.

Exit codes: 0 success; 1 some inputs failed; 2 bad usage or input; 3 no trained weights.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["ocr_page", "ocr_batch", "ocr_train", "ocr_eval", "ocr_synth"]


def _fail(prog: str, msg: str, code: int) -> int:
    print(f"{prog}: {msg}", file=sys.stderr)
    return code


def _load_pipeline(prog: str, device: str = "cpu"):
    import pipeline

    try:
        return pipeline.load(device=device), 0
    except pipeline.NoWeightsError as exc:
        return None, _fail(prog, str(exc), 3)


def ocr_page(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocr-page", description="Read the text of page images.")
    ap.add_argument("inputs", nargs="+", help="image files ('-' reads standard input)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    for p in args.inputs:
        if p != "-" and not Path(p).is_file():
            return _fail("ocr-page", f"{p}: no such file", 2)
    ocr, code = _load_pipeline("ocr-page", args.device)
    if ocr is None:
        return code
    import pipeline

    try:
        for p in args.inputs:
            print(ocr(sys.stdin.buffer.read() if p == "-" else p).text)
    except pipeline.NoWeightsError as exc:
        return _fail("ocr-page", str(exc), 3)
    return 0


def ocr_batch(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocr-batch", description="Convert a folder of scans.")
    ap.add_argument("in_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if not args.in_dir.is_dir():
        return _fail("ocr-batch", f"{args.in_dir}: no such folder", 2)
    ocr, code = _load_pipeline("ocr-batch", args.device)
    if ocr is None:
        return code
    import pipeline

    try:
        ocr.check_pages()  # before any file is touched
    except pipeline.NoWeightsError as exc:
        return _fail("ocr-batch", str(exc), 3)
    return 0


def ocr_train(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocr-train", description="Train the detector or the recognizer.")
    ap.add_argument("model", choices=("detector", "recognizer"))
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="options of that model's trainer (--config, --out, --device)")
    args = ap.parse_args(argv)
    if args.model == "recognizer":
        from recognition.train import main
    else:
        from detection.train import main
    return main(args.rest)


def ocr_eval(argv: list[str] | None = None) -> int:
    from pipeline.evaluate import main

    return main(argv)


def ocr_synth(argv: list[str] | None = None) -> int:
    from synth.cli import main

    return main(argv)


def _entry(fn):
    def run() -> None:
        try:
            sys.exit(fn())
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
    return run


page_main, batch_main, train_main, eval_main, synth_main = (_entry(f) for f in (ocr_page, ocr_batch, ocr_train, ocr_eval, ocr_synth))
