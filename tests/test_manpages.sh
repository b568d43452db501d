#!/bin/sh
# Every program in bin/ (man/man1/NAME.1) and every script in pipelines/
# (man/man1/pathfm-NAME.1) has a page; every option its --help shows is in
# the page (roff writes \-); every page in man/ renders without a warning
# (groff -t -ww, and mandoc -T lint where it is installed).
. tests/lib.sh
page_has_options() { # name page command...
	name=$1 page=$2
	shift 2
	if [ ! -f "$page" ]; then
		fail "$name: no man page $page"
		return
	fi
	pass
	sed 's/\\-/-/g' "$page" > "$T/man"
	"$@" --help > "$T/help" 2>&1 || fail "$name --help: exit status $?"
	for o in $(grep -oE -- '--[a-z][a-z0-9-]+' "$T/help" | sort -u); do
		grep -qF -- "$o" "$T/man" && pass || fail "$page lacks $o (in $name --help)"
	done
}
for p in "$BIN"/*; do
	[ -x "$p" ] || continue
	n=$(basename "$p")
	page_has_options "$n" "man/man1/$n.1" "$p"
done
for s in pipelines/*; do
	[ -x "$s" ] && [ -f "$s" ] || continue
	n=$(basename "$s")
	PFM_BIN=$BIN page_has_options "$n" "man/man1/pathfm-$n.1" env PFM_BIN="$BIN" "$s"
done
# (tools/convert-weights, which needs the .venv, is checked by test_convert.sh)

for page in man/man1/*.1 man/man5/*.5 man/man7/*.7; do
	groff -t -ww -man -Tutf8 "$page" > /dev/null 2> "$T/warn"
	if [ -s "$T/warn" ]; then
		fail "$page: groff warns:"
		head -5 "$T/warn" | sed 's/^/  | /' >&2
	else
		pass
	fi
	if command -v mandoc > /dev/null 2>&1; then
		mandoc -T lint -W warning "$page" > "$T/lint" 2>&1
		if [ -s "$T/lint" ]; then
			fail "$page: mandoc -T lint:"
			head -5 "$T/lint" | sed 's/^/  | /' >&2
		else
			pass
		fi
	fi
	# SEE ALSO names only pages that exist here (or outside pathfm)
	for ref in $(sed -n '/^\.SH SEE ALSO/,/^\.SH/p' "$page" | grep -oE '^\.BR [a-z0-9-]+ \([157]\)' | sed 's/^\.BR //; s/ (\(.\))$/.\1/'); do
		case $ref in
		jq.1 | openslide_read_region.3) continue ;;
		esac
		sec=${ref##*.}
		[ -f "man/man$sec/$ref" ] && pass || fail "$page: SEE ALSO $ref: no such page"
	done
done
finish
