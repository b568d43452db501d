# pipelines/lib.sh: shell functions shared by the pathfm pipelines (bash).
# Sourced by each script after `set -euo pipefail`; not a program itself.

pfm_lib=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
# The programs: $PFM_BIN (another build, the tests), else the checkout's
# bin/ when the script runs from one, else PREFIX/bin next to an installed
# PREFIX/share/pathfm/pipelines, else PATH.
if [ -n "${PFM_BIN:-}" ]; then
	PATH="$(cd "$PFM_BIN" && pwd):$PATH"
elif [ -x "$pfm_lib/../bin/wsi-tile" ]; then
	PATH="$(cd "$pfm_lib/../bin" && pwd):$PATH"
elif [ -x "$pfm_lib/../../../bin/wsi-tile" ]; then # PREFIX/share/pathfm/pipelines
	PATH="$(cd "$pfm_lib/../../../bin" && pwd):$PATH"
fi
export PATH
prog=${prog:-$(basename "$0")}
quiet=${quiet:-0}

# Messages go to standard error as "prog: why" (pathfm(7)); exit status 1
# for a runtime error, 2 for a usage error.
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
usage_fail() {
	printf '%s: %s\nTry '\''%s --help'\'' for more information.\n' \
		"$prog" "$*" "$prog" >&2
	exit 2
}
say() { [ "$quiet" = 1 ] || printf '%s: %s\n' "$prog" "$*" >&2; }
# need "$@": the option in $1 has its argument in $2.
need() { [ $# -ge 2 ] || usage_fail "option '$1' requires an argument"; }
show_version() {
	printf '%s (pathfm) %s\n' "$prog" "$(frame-cat --version | sed 's/.* //')"
	exit 0
}
# Every option spelled --name=value is split into --name value first:
#   eval "set -- $(split_eq "$@")"   (see each script's loop)
split_eq() {
	local a
	for a; do
		case $a in
		--*=*) printf '%q %q ' "${a%%=*}" "${a#*=}" ;;
		*) printf '%q ' "$a" ;;
		esac
	done
}

require_programs() {
	local p
	for p; do
		command -v "$p" >/dev/null 2>&1 ||
			die "$p: not found (run make, or set PFM_BIN to the programs' folder)"
	done
}

is_count() { [[ $1 =~ ^[0-9]+$ ]]; }
is_number() { [[ $1 =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; }
count_arg() { is_count "$2" || usage_fail "$1: not a count: '$2'"; }
number_arg() { is_number "$2" || usage_fail "$1: not a number: '$2'"; }

abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "${1#./}" ;;
	esac
}

# The unit name of an input, as the feature cache names files: a folder's
# name, or a file's name without its extension (as wsi-tile names slides).
unit_of() {
	local b=${1%/}
	b=${b##*/}
	if [ ! -d "$1" ] && [[ $b == ?*.* ]]; then b=${b%.*}; fi
	printf '%s\n' "$b"
}

# Names that become file names (models, units, tasks): letters, digits,
# and . _ + - (not first); no slash, no spaces.
check_name() { # what name
	[[ $2 =~ ^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$ ]] ||
		die "$1 '$2': use letters, digits and . _ + - only"
}

# A stamp of a file's contents (models, label files): its SHA-256.
file_hash() { sha256sum < "$1" | cut -c1-64; }
str_hash() { printf '%s' "$1" | sha256sum | cut -c1-16; }

# lock_dir DIR: hold DIR/.lock until the script ends, or fail when
# another run holds it (two runs must not write one cache or result folder).
lock_dir() {
	local fd
	exec {fd}>"$1/.lock"
	flock -n "$fd" || die "$1: in use by another run (lock $1/.lock)"
}

# list_slides LIST: the slides of a wsi-tile slide list (one path a line,
# # comments, or a CSV whose header has a path column and maybe slide_id)
# as lines "ID<TAB>PATH<TAB>ROW": relative paths resolved from the list's
# folder; ROW is the CSV row (empty for plain lists). Quoted CSV fields
# are refused (wsi-tile reads them; these scripts split on commas).
list_slides() {
	local list=$1 dir
	[ -r "$list" ] || die "$list: cannot read the slide list"
	dir=$(cd "$(dirname "$list")" && pwd)
	awk -v dir="$dir" -v list="$list" '
	function id_of(p,   b) { b = p; sub(/.*\//, "", b)
		if (b ~ /.\./) sub(/\.[^.]*$/, "", b); return b }
	function res(p) { return p ~ /^\// ? p : dir "/" p }
	{ sub(/\r$/, "") }
	/^#/ || /^$/ { next }
	/"/ { printf "%s:%d: quoted CSV fields are not supported by the pipelines\n", list, NR > "/dev/stderr"; bad = 1; exit 1 }
	!started { started = 1
		n = split($0, h, ",")
		for (i = 1; i <= n; i++) { if (h[i] == "path") pc = i; if (h[i] == "slide_id") ic = i }
		if (pc) { ncols = n; next } }
	!pc { printf "%s\t%s\t\n", id_of($0), res($0); next }
	{ n = split($0, f, ",")
	  if (n != ncols) { printf "%s:%d: %d fields, the header has %d\n", list, NR, n, ncols > "/dev/stderr"; bad = 1; exit 1 }
	  if (f[pc] == "") { printf "%s:%d: empty path\n", list, NR > "/dev/stderr"; bad = 1; exit 1 }
	  f[pc] = res(f[pc]); row = f[1]
	  for (i = 2; i <= n; i++) row = row "," f[i]
	  printf "%s\t%s\t%s\n", ic ? f[ic] : id_of(f[pc]), f[pc], row }
	END { if (bad) exit 1 }' "$list" || die "$list: bad slide list"
}

# csv_header LIST: the header row of a CSV slide list (empty for a plain one).
csv_header() {
	awk '{ sub(/\r$/, "") } /^#/ || /^$/ { next } { print; exit }' "$1" |
		awk -F, '{ for (i = 1; i <= NF; i++) if ($i == "path") { print; exit } }'
}

# extract_lacking EMODELS EINPUTS (names of arrays): fill the feature cache
# $cache with extract-features for the models given as NAME=MODEL (as
# "-m NAME=MODEL" pairs) over the inputs, when there are both (uses
# threads, extract_opts, quiet); then the cache must exist.
extract_lacking() {
	local -n _models=$1 _inputs=$2
	if [ ${#_models[@]} -gt 0 ] && [ ${#_inputs[@]} -gt 0 ]; then
		say "extracting what the cache lacks"
		local -a eq=()
		[ "$quiet" = 0 ] || eq=(-q)
		# shellcheck disable=SC2086
		"$pfm_lib/extract-features" "${eq[@]}" -o "$cache" "${_models[@]}" \
			-j "$threads" $extract_opts "${_inputs[@]}"
	fi
	[ -d "$cache" ] || die "$cache: no such feature cache"
}

# cache_models: the models of the feature cache $cache (folders with their
# settings), a line each.
cache_models() {
	local d
	for d in "$cache"/*/settings; do
		[ -f "$d" ] || continue
		d=${d%/settings}
		printf '%s\n' "${d##*/}"
	done
}
