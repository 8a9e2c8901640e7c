"""CTPN-style text-line detector (VGG16 features, BiLSTM over feature rows, vertical anchors).

Trained weights ship in ``detection/weights/``; :func:`weights_path` finds them.
"""
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def weights_path() -> Path | None:
    """The shipped detector weight file, or ``None`` while none has been trained."""
    files = sorted(WEIGHTS_DIR.glob("*.pt"))
    return files[0] if files else None
