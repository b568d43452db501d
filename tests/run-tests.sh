#!/bin/sh
# Run every test binary in $1 and every tests/test_*.sh against the
# programs in $2; print the totals as the last line, exit 1 on failure.
set -u
tdir=$1
bindir=$2
pass=0 fail=0 broken=""
run() {
	name=$1; shift
	out=$(timeout 600 "$@" 2>&1)
	rc=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
	p=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
	f=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
	if [ -z "$p" ] || [ $rc -ne 0 ] || [ "$f" != 0 ]; then
		printf '%s\n' "$out" | tail -n 40 >&2
		broken="$broken $name"
		[ -z "$p" ] && p=0 f=1
		[ "$f" = 0 ] && f=1
	fi
	printf '%-24s %s\n' "$name" "$last"
	pass=$((pass + p)); fail=$((fail + f))
}
for t in "$tdir"/test_*; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
done
for t in tests/test_*.sh; do
	[ -f "$t" ] && run "$(basename "$t")" env BIN="$bindir" sh "$t"
done
[ -n "$broken" ] && echo "failing:$broken" >&2
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
