# lib.sh: helpers for shell tests. Source it; call `finish` at the end.
set -u
BIN=${BIN:-bin}
BIN=$(cd "$BIN" && pwd)
export PATH="$BIN:$PATH"
T=$(mktemp -d /tmp/pfm-sh-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# expect NAME RC CMD...: run CMD (through sh -c), check its exit status;
# its stdout/stderr are left in $T/out and $T/err.
expect() {
	name=$1 want=$2; shift 2
	sh -c "$*" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" = "$want" ]; then pass; else
		fail "$name: exit $got, wanted $want ($*)"; sed 's/^/  | /' "$T/err" >&2; fi
}
# has NAME FILE TEXT: FILE contains TEXT
has() {
	if grep -qF -- "$3" "$2"; then pass; else
		fail "$1: '$3' not in $2:"; head -c 600 "$2" | sed 's/^/  | /' >&2; fi
}
# same NAME A B: files identical
same() {
	if cmp -s "$2" "$3"; then pass; else
		fail "$1: $2 and $3 differ"; diff "$2" "$3" | head -20 | sed 's/^/  | /' >&2; fi
}
empty() {
	if [ ! -s "$2" ]; then pass; else fail "$1: $2 not empty:"; head -5 "$2" >&2; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
# need_venv: the test's Python references (.venv, made by make deps), in
# $PY; without them the test fails and ends here.
need_venv() {
	PY=.venv/bin/python
	[ -x $PY ] && return 0
	fail "$PY missing: run 'make deps' first"
	finish
	exit 1
}
# cli_basics PROG: --help (usage on stdout, nothing on stderr), every
# option it lists documented in man/man1/PROG.1, --version, and a bad
# option refused with exit 2.
cli_basics() {
	expect help 0 "$1" --help
	has help "$T/out" "Usage: $1"
	empty help-stderr "$T/err"
	sed 's/\\-/-/g' "man/man1/$1.1" > "$T/man"
	for o in $("$1" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
	done
	expect version 0 "$1" --version
	has version "$T/out" "$1 (pathfm)"
	expect bad-option 2 "$1" --bogus
	has bad-option "$T/err" "Try '$1 --help'"
}
