"""Shipped weight files are checked against the SHA-256 recorded beside them before they are loaded.

Each weights folder (``detection/weights``, ``recognition/weights``) holds a ``SHA256SUMS`` file in the
format of ``sha256sum`` (``<64 hex digits>  <file name>`` per line), so ``cd recognition/weights &&
sha256sum -c SHA256SUMS`` checks them by hand too. :func:`verify` refuses a weight file whose digest differs
from its record (changed, truncated or corrupted after it was shipped) and one the record does not list,
with a one-line :class:`WeightsIntegrityError`. The files are also loaded with ``weights_only=True``, so
even a file that passed cannot run code. After training new weights, record them with :func:`record`
(``python -m pipeline.integrity recognition/weights``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from training.onnx_export import sha256

__all__ = ["SUMS", "WeightsIntegrityError", "sha256", "read_sums", "verify", "record"]

SUMS = "SHA256SUMS"


class WeightsIntegrityError(ValueError):
    """A weight file that does not match the SHA-256 recorded for it."""


def read_sums(folder: str | Path) -> dict[str, str]:
    """``{file name: hex digest}`` from ``folder/SHA256SUMS`` (empty when there is none)."""
    sums = Path(folder) / SUMS
    if not sums.is_file():
        return {}
    out = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.lstrip("*").strip()] = digest.lower()
    return out


def verify(path: str | Path) -> None:
    """Raise :class:`WeightsIntegrityError` unless ``path`` matches its folder's recorded SHA-256."""
    path = Path(path)
    sums = read_sums(path.parent)
    if path.name not in sums:
        raise WeightsIntegrityError(f"{path}: no SHA-256 recorded for it in {path.parent / SUMS}; refusing to "
                                    "load an unrecorded weight file")
    got = sha256(path)
    if got != sums[path.name]:
        raise WeightsIntegrityError(f"{path}: SHA-256 {got[:12]}... does not match the recorded "
                                    f"{sums[path.name][:12]}...: the file was changed or corrupted; reinstall")


def record(folder: str | Path) -> Path:
    """Write ``folder/SHA256SUMS`` for every ``*.pt``, ``*.onnx`` (their exports) and ``*.json.gz`` (language
    model) in ``folder``."""
    folder = Path(folder)
    files = sorted([*folder.glob("*.pt"), *folder.glob("*.onnx"), *folder.glob("*.json.gz")])
    lines = [f"{sha256(p)}  {p.name}\n" for p in files]
    (folder / SUMS).write_text("".join(lines), encoding="utf-8")
    return folder / SUMS


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m pipeline.integrity",
                                 description="record the SHA-256 of every *.pt, *.onnx and *.json.gz in each weights folder "
                                             f"(writes FOLDER/{SUMS}) and print it")
    ap.add_argument("folders", nargs="*", type=Path, default=[Path("detection/weights"), Path("recognition/weights")],
                    help="weights folders (default: detection/weights recognition/weights)")
    args = ap.parse_args(argv)
    for folder in args.folders:
        if not folder.is_dir():
            print(f"python -m pipeline.integrity: {folder}: not a folder", file=sys.stderr)
            return 2
        print(record(folder).read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
