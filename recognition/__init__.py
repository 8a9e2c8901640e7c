"""CRNN text-line recognizer (VGG-style CNN, 2-layer BiLSTM, CTC).

Trained weights ship in ``recognition/weights/``; :func:`weights_path` finds them, :func:`lm_path` the
character language model that beam search consults (:mod:`recognition.lm`).
"""
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def weights_path() -> Path | None:
    """The shipped recognizer weight file, or ``None`` while none has been trained."""
    files = sorted(WEIGHTS_DIR.glob("*.pt"))
    return files[0] if files else None


LM_FILE = "charlm.json.gz"


def lm_path() -> Path | None:
    """The shipped character language model file, or ``None`` when there is none."""
    path = WEIGHTS_DIR / LM_FILE
    return path if path.is_file() else None
