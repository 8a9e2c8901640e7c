"""CRNN text-line recognizer (VGG-style CNN, 2-layer BiLSTM, CTC).

Trained weights ship in ``recognition/weights/``, one file per language (:data:`WEIGHT_FILES`: ``en``,
Latin script; ``zh``, Simplified Chinese and English); :func:`weights_path` finds them, :func:`lm_path`
the character language model that beam search consults (:mod:`recognition.lm`, English).
"""
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHT_FILES = {"en": "crnn_s.pt", "zh": "crnn_zh.pt"}
LANGS = tuple(WEIGHT_FILES)


def weights_path(lang: str = "en") -> Path | None:
    """The shipped recognizer weight file of ``lang`` (one of :data:`LANGS`), or ``None`` while none has
    been trained."""
    if lang not in WEIGHT_FILES:
        raise ValueError(f"unknown language {lang!r}; choose from {', '.join(LANGS)}")
    path = WEIGHTS_DIR / WEIGHT_FILES[lang]
    return path if path.is_file() else None


LM_FILE = "charlm.json.gz"


def lm_path() -> Path | None:
    """The shipped character language model file, or ``None`` when there is none."""
    path = WEIGHTS_DIR / LM_FILE
    return path if path.is_file() else None
