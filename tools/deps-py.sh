#!/bin/sh
# Python references for the statistics tests (tests/ref/): Debian's
# numpy/scipy/pandas, and scikit-posthocs from PyPI in .venv, which sees
# Debian's packages. Installs only what is missing; quiet when all is there.
set -eu
# scikit-posthocs 0.10.0 is the first whose posthoc_nemenyi_friedman uses
# scipy's exact studentized_range.sf (earlier: statsmodels' psturng
# table, 3 digits). Its dependencies come from Debian (--no-deps), so pip
# never pulls numpy/scipy wheels over Debian 12's.
SKP=0.10.0
pkgs="python3-venv python3-numpy python3-scipy python3-pandas
python3-statsmodels python3-matplotlib python3-seaborn librsvg2-bin"
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
	echo "deps-py: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	$cmd >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
	echo "deps-py: creating .venv" >&2
	/usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c "import scikit_posthocs, importlib.metadata as m
assert m.version('scikit-posthocs') == '$SKP'" >/dev/null 2>&1; then
	echo "deps-py: installing scikit-posthocs==$SKP" >&2
	.venv/bin/pip install -q --disable-pip-version-check --no-deps \
		"scikit-posthocs==$SKP"
fi
