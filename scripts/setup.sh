#!/usr/bin/env bash
# Set up this project on a fresh Debian/Ubuntu machine: system packages, then a virtual environment in
# .venv with the CPU build of torch and this package.
#   bash scripts/setup.sh          runtime + synthetic-data extras (fonts)
#   bash scripts/setup.sh --test   also what the tests need (pytest, hypothesis, tesseract for ocr-eval)
#   bash scripts/setup.sh --tools  also the comparison tools for benchmarks (tesseract, rapidocr)
#   bash scripts/setup.sh --ocrmypdf  also OCRmyPDF and this project's engine plugin for it
#   bash scripts/setup.sh --ray    also Ray Data, for ocr-batch --ray
set -euo pipefail
cd "$(dirname "$0")/.."

TEST=0; TOOLS=0; OCRMYPDF=0; RAY=0
for a in "$@"; do
  case "$a" in
    --test) TEST=1 ;;
    --tools) TOOLS=1 ;;
    --ocrmypdf) OCRMYPDF=1 ;;
    --ray) RAY=1 ;;
    *) echo "setup.sh: unknown option $a (use --test, --tools, --ocrmypdf or --ray)" >&2; exit 2 ;;
  esac
done

# System packages: document fonts for the synthetic generator (Times/Helvetica/Courier metrics, narrow,
# mono, receipt-printer and typewriter faces; Chinese: Noto CJK SC, WenQuanYi, AR PL, Smiley Sans, and
# AR PL UKai and LXGW WenKai, which only the held-out Chinese renderings use), the libraries
# opencv-python loads, tesseract (English and simplified Chinese) as an optional comparison system, and
# for the tests pdftotext (poppler-utils), which reads our searchable PDFs back as a viewer would, and
# qpdf, which checks their structure. OCRmyPDF checks for Tesseract whichever engine it runs, so the
# plugin needs it installed too (ghostscript is optional in OCRmyPDF 17 and not installed).
FONTS="fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-liberation2 fonts-urw-base35
 fonts-freefont-ttf fonts-croscore fonts-crosextra-carlito fonts-crosextra-caladea fonts-noto-mono
 fonts-inconsolata fonts-go fonts-open-sans fonts-linuxlibertine fonts-texgyre fonts-lato fonts-ebgaramond
 fonts-hack fonts-courier-prime fonts-ocr-b fonts-anonymous-pro fonts-dotgothic16 fonts-gnutypewriter
 fonts-cantarell fonts-noto-cjk fonts-wqy-zenhei fonts-wqy-microhei fonts-arphic-uming fonts-arphic-gbsn00lp
 fonts-arphic-gkai00mp fonts-smiley-sans fonts-arphic-ukai fonts-lxgw-wenkai"
PKGS="python3-venv libgl1 libglib2.0-0 $FONTS"
if [ "$TEST" = 1 ] || [ "$TOOLS" = 1 ]; then PKGS="$PKGS tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim poppler-utils"; fi
if [ "$TEST" = 1 ]; then PKGS="$PKGS qpdf"; fi
if [ "$OCRMYPDF" = 1 ]; then PKGS="$PKGS tesseract-ocr tesseract-ocr-eng"; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
  echo "setup: installing system packages: $(echo $missing)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# The CPU build of torch first, so the project's torch requirement is already met (no CUDA download).
.venv/bin/python -m pip install -q "torch==2.13.0"
EXTRAS="synth,pdf,torch"
[ "$TEST" = 1 ] && EXTRAS="$EXTRAS,test"
[ "$TOOLS" = 1 ] && EXTRAS="$EXTRAS,compare"
[ "$OCRMYPDF" = 1 ] && EXTRAS="$EXTRAS,ocrmypdf"
[ "$RAY" = 1 ] && EXTRAS="$EXTRAS,ray"
.venv/bin/python -m pip install -q ".[$EXTRAS]"
echo "setup: done (.venv ready; extras: $EXTRAS)"
