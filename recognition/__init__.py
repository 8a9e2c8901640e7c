"""CRNN text-line recognizer (VGG-style CNN, 2-layer BiLSTM, CTC).

Trained weights ship in ``recognition/weights/``, one file per language (:data:`WEIGHT_FILES`: ``en``,
Latin script; ``zh``, Simplified Chinese and English); :func:`weights_path` finds them, :func:`lm_path`
each language's character language model that beam search consults (:mod:`recognition.lm`).
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


LM_FILES = {"en": "charlm.json.gz", "zh": "charlm_zh.json.gz"}


def lm_path(lang: str = "en") -> Path | None:
    """The shipped character language model file of ``lang`` (one of :data:`LANGS`), or ``None`` when there
    is none."""
    if lang not in LM_FILES:
        raise ValueError(f"unknown language {lang!r}; choose from {', '.join(LANGS)}")
    path = WEIGHTS_DIR / LM_FILES[lang]
    return path if path.is_file() else None
