#!/bin/sh
# Install what pathfm needs to build and test, only what is missing:
# Debian packages (libraries, compilers, the Python references' Debian
# side) and a .venv for the references from PyPI. As non-root, print the
# apt-get command instead. Quiet when everything is there.
set -eu
cd "$(dirname "$0")/.."
# C build and tests (libdnnl-dev: oneDNN's bf16 matmul for embed
# --precision bf16).
pkgs="build-essential pkg-config libopenslide-dev libtiff-dev libturbojpeg0-dev
libpng-dev libzmq3-dev libopenblas-dev clang libclang-rt-14-dev jq
libdnnl-dev"
# groff-base, man-db: the tests render every page (groff -ww, man -l); a
# standard Debian install has them, minimal images do not.
pkgs="$pkgs groff-base man-db"
# tcpdump: tests/test_curve.sh captures loopback traffic to show that
# CURVE leaves no plaintext on the wire.
pkgs="$pkgs tcpdump"
# msgpack-c: Debian 12 calls it libmsgpack-dev, newer releases libmsgpack-c-dev.
if apt-cache show libmsgpack-c-dev >/dev/null 2>&1; then
	pkgs="$pkgs libmsgpack-c-dev"
else
	pkgs="$pkgs libmsgpack-dev"
fi
# Python references (tests/ref): Debian's numeric stack; rsvg-convert to
# render the SVG figures; Pillow, the reference PNG decoder of the wsi-tile
# tests and openslide-python's one dependency.
pkgs="$pkgs python3-venv python3-numpy python3-scipy python3-pandas
python3-statsmodels python3-matplotlib python3-seaborn librsvg2-bin
python3-pil"
# embed/distill-step/mil-train references: Debian's CPU torch 1.13 (never
# PyPI's, which pulls gigabytes of CUDA wheels), torchvision for timm,
# sklearn for metrics, OpenCV for tile-filter's HSV and Laplacian; regex/tqdm/wcwidth are open_clip's and ftfy's.
pkgs="$pkgs python3-torch python3-torchvision python3-sklearn python3-regex
python3-tqdm python3-wcwidth python3-yaml python3-opencv"
# test_text's second BLEU reference (corpus_bleu).
pkgs="$pkgs python3-nltk"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	cmd="apt-get install -y --no-install-recommends$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "pathfm: missing packages; run as root:" >&2
		echo "  apt-get update && $cmd" >&2
		exit 1
	fi
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	$cmd >/dev/null
fi

# PyPI references in .venv, which sees Debian's packages. scikit-posthocs
# 0.10.0 is the first whose posthoc_nemenyi_friedman uses scipy's exact
# studentized_range.sf (earlier: statsmodels' 3-digit psturng table). Its
# dependencies come from Debian (--no-deps), so pip never pulls numpy or
# scipy wheels over Debian 12's.
SKP=0.10.0
# openslide-python for the wsi-tile benchmark (tests/perf): 1.4.1 is a
# 33 KB abi3 wheel that loads Debian's libopenslide.so.0 through ctypes
# (no openslide-bin); Pillow comes from Debian.
OSP=1.4.1
if [ ! -x .venv/bin/python ]; then
	echo "deps: creating .venv" >&2
	/usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c "import scikit_posthocs, importlib.metadata as m
assert m.version('scikit-posthocs') == '$SKP'" >/dev/null 2>&1; then
	echo "deps: installing scikit-posthocs==$SKP" >&2
	.venv/bin/pip install -q --disable-pip-version-check --no-deps \
		"scikit-posthocs==$SKP"
fi
if ! .venv/bin/python -c "import openslide, importlib.metadata as m
assert m.version('openslide-python') == '$OSP'" >/dev/null 2>&1; then
	echo "deps: installing openslide-python==$OSP" >&2
	.venv/bin/pip install -q --disable-pip-version-check --no-deps \
		--only-binary=:all: "openslide-python==$OSP"
fi

# The model references (tests/ref): timm's ViTs with their own tensor
# names, safetensors to write checkpoints, open_clip's CoCa attentional
# pooler (CONCH), scikit-survival's c-index. All --no-deps so pip never
# replaces Debian's torch, numpy or sklearn: timm 1.0.11 and open_clip
# 2.26.1 run on torch 1.13; scikit-survival 0.21.0 is the release built
# for sklearn 1.2 (Debian 12's).
pin() { # module dist version
	.venv/bin/python -c "import $1, importlib.metadata as m
assert m.version('$2') == '$3'" >/dev/null 2>&1 && return 0
	echo "deps: installing $2==$3" >&2
	.venv/bin/pip install -q --disable-pip-version-check --no-deps \
		--only-binary=:all: "$2==$3"
}
pin safetensors safetensors 0.4.5
pin timm timm 1.0.11
pin ftfy ftfy 6.2.3
pin open_clip open_clip_torch 2.26.1
pin sksurv scikit-survival 0.21.0
# test_text's references: pycocoevalcap's Bleu, Rouge and Cider, what
# R2Gen and HistGen report (pure Python; the wheel is ~100 MB for Java
# jars we do not run; its pycocotools dependency is not needed for them).
pin pycocoevalcap pycocoevalcap 1.2
