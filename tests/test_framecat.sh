#!/bin/sh
# frame-cat: CLI conventions, golden JSON views, selection, validation,
# cut and garbage input, EPIPE, terminals, ZeroMQ.
. tests/lib.sh
G=tests/data/golden

expect help 0 frame-cat --help
has help "$T/out" "Usage: frame-cat"
empty help-stderr "$T/err"
# Every option in --help is documented in the man page (roff writes \-).
sed 's/\\-/-/g' man/man1/frame-cat.1 > "$T/man"
for o in $(frame-cat --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
done
expect version 0 frame-cat --version
has version "$T/out" "frame-cat (pathfm)"
expect bad-option 2 frame-cat --bogus
has bad-option "$T/err" "Try 'frame-cat --help'"
expect bad-count 2 frame-cat --head abc
has bad-count "$T/err" "frame-cat: --head: not a count: 'abc'"
expect head-and-tail 2 frame-cat --head 1 --tail 1
expect missing-file 1 frame-cat /nonexistent.mpk
has missing-file "$T/err" "frame-cat: /nonexistent.mpk: No such file or directory"

# JSON -> frames -> JSON is the identity on the full view.
expect from-json 0 frame-cat -J $G/stream.jsonl -o $T/s.mpk
expect full-view 0 frame-cat --full $T/s.mpk
same full-roundtrip $G/stream.jsonl "$T/out"
expect from-stdin 0 "frame-cat -J < $G/stream.jsonl > $T/s2.mpk"
same stdin-equals-file $T/s.mpk $T/s2.mpk
# The summary view is what users read: golden file.
expect summary 0 frame-cat $T/s.mpk
same summary-golden $G/stream.summary.jsonl "$T/out"
# Frames pass through byte for byte.
expect passthrough 0 "frame-cat -F < $T/s.mpk > $T/p.mpk"
same passthrough-bytes $T/s.mpk $T/p.mpk

# Selection.
expect count 0 frame-cat -c $T/s.mpk
has count "$T/out" "5"
expect count-type 0 frame-cat -c -t tile,result $T/s.mpk
has count-type "$T/out" "3"
expect head 0 frame-cat -n 1 -t embedding $T/s.mpk
[ "$(wc -l < "$T/out")" = 1 ] && pass || fail "head: not one line"
has head "$T/out" '"slide_id":"S2"'
expect tail 0 frame-cat --tail 2 $T/s.mpk
tail -n 2 $G/stream.summary.jsonl > "$T/want"
same tail "$T/want" "$T/out"
expect eos 0 frame-cat --eos $T/s.mpk
has eos "$T/out" '{"type":"eos","v":1,"count":5}'
expect head-frames 0 "frame-cat -F -n 2 $T/s.mpk | frame-cat --eos -t eos"
has head-frames-eos "$T/out" '"count":2'
expect concat 0 "cat $T/s.mpk $T/s.mpk | frame-cat -c"
has concat "$T/out" "10"

# Validation against the schemas.
expect check-valid 0 frame-cat --check -c $T/s.mpk
expect check-invalid 1 "frame-cat -J $G/invalid.jsonl | frame-cat --check -c"
has check-names-frame "$T/err" "frame 1: tile: .width"
has check-tensor "$T/err" "frame 2:"
has check-counts-all "$T/out" "3"

# Cut, empty and garbage input: exit 1 with a reason, never a crash.
size=$(wc -c < $T/s.mpk)
head -c $((size - 5)) $T/s.mpk > $T/cut.mpk
expect cut 1 frame-cat $T/cut.mpk
has cut "$T/err" "truncated"
[ "$(wc -l < "$T/out")" = 5 ] && pass || fail "cut: complete frames before the cut are printed"
head -c $((size - 20)) $T/s.mpk > $T/noeos.mpk
expect no-eos 1 frame-cat -c $T/noeos.mpk
has no-eos "$T/err" "without an end-of-stream frame"
expect lenient 0 frame-cat -c --lenient $T/noeos.mpk
expect empty 1 "frame-cat < /dev/null"
has empty "$T/err" "empty input"
head -c 4096 /dev/urandom > $T/garbage
expect garbage 1 frame-cat $T/garbage
expect max-frame 1 frame-cat --max-frame 64 $T/s.mpk
has max-frame "$T/err" "limit of 64 bytes"
expect bad-json 1 "printf '{\"type\":\"tile\",\"v\":1}\n{\"type\":tile}\n' | frame-cat -J -c"
has bad-json "$T/err" "stdin:2:"
expect summary-not-input 1 "frame-cat $T/s.mpk | frame-cat -J -c"
has summary-not-input "$T/err" "without --full"

# Progress: on stderr when asked (or a terminal), never on stdout; -q wins.
expect progress 0 frame-cat --progress -c $T/s.mpk
has progress "$T/err" "5 frames"
has progress-stdout "$T/out" "5"
expect progress-quiet 0 frame-cat --progress -q -c $T/s.mpk
empty progress-quiet "$T/err"

# Atomic file output: nothing under the name unless the stream completed.
expect atomic-fail 1 frame-cat -F -o $T/partial.mpk $T/cut.mpk
[ ! -e $T/partial.mpk ] && [ -z "$(ls $T | grep partial)" ] && pass || fail "partial output left behind"
expect atomic-ok 0 frame-cat -F -o $T/whole.mpk $T/s.mpk
same atomic-ok $T/s.mpk $T/whole.mpk

# Devices and FIFOs are written in place, never replaced by a file.
expect devnull 0 frame-cat -F -o /dev/null $T/s.mpk
expect devnull-json 0 frame-cat -o /dev/null $T/s.mpk
[ -c /dev/null ] && pass || fail "/dev/null is no longer a device"
mkfifo $T/fifo
frame-cat -c $T/fifo > $T/fifo.out 2>&1 &
expect fifo-write 0 frame-cat -F -o $T/fifo $T/s.mpk
wait $! && pass || fail "fifo reader failed"
has fifo-count $T/fifo.out "5"
[ -p $T/fifo ] && pass || fail "fifo replaced by a file"

# A reader that goes away: quiet exit 0.
for i in 1 2 3 4 5 6 7 8; do cat $T/s.mpk; done > $T/many.mpk
i=0; while [ $i -lt 8 ]; do cat $T/many.mpk; i=$((i + 1)); done > $T/big.mpk
{ frame-cat --full $T/big.mpk 2>$T/epipe.err; echo $? > $T/epipe.rc; } | head -c 100 > /dev/null
[ "$(cat $T/epipe.rc)" = 0 ] && pass || fail "epipe: exit $(cat $T/epipe.rc)"
empty epipe-quiet $T/epipe.err

# No binary frames to a terminal.
if command -v script >/dev/null 2>&1; then
	script -qec "frame-cat -F $T/s.mpk" /dev/null > $T/tty.out 2>&1
	has tty-refused $T/tty.out "refusing to write binary frames to a terminal"
fi

# ZeroMQ: frames over ipc and tcp, ended by the eos frame, with the
# default high-water mark: the sender closes only once the receiver has
# everything, so none of the last frames is lost to a slow receiver.
frame-cat --timeout 30 -F -i "@ipc://$T/sock" > $T/z.mpk 2>$T/z.err &
pid=$!
expect zmq-send 0 "frame-cat -F -o '>ipc://$T/sock' $T/s.mpk"
wait $pid && pass || fail "zmq receiver failed: $(cat $T/z.err)"
same zmq-ipc $T/s.mpk $T/z.mpk
port=$((30000 + $$ % 20000))
frame-cat --timeout 30 -c -i "@tcp://127.0.0.1:$port" > $T/zc.out 2>$T/z.err &
pid=$!
expect zmq-tcp-send 0 "frame-cat -F -o '>tcp://127.0.0.1:$port' $T/big.mpk"
wait $pid && pass || fail "zmq tcp receiver failed: $(cat $T/z.err)"
has zmq-tcp-count $T/zc.out "320"
for i in 1 2 3; do
	frame-cat --timeout 30 -F -i "@ipc://$T/slow$i" 2>$T/z.err | frame-cat -c --rate 2000 > $T/zs.out &
	expect "zmq-slow-send-$i" 0 "frame-cat -F -o '>ipc://$T/slow$i' $T/big.mpk"
	wait
	has "zmq-slow-receiver-$i" $T/zs.out "320"
done
# A producer that dies mid-stream is an error at once, not a wait.
frame-cat --timeout 30 -c -i "@ipc://$T/dies" > /dev/null 2>$T/z.err &
pid=$!
frame-cat -F --rate 200 -o ">ipc://$T/dies" $T/big.mpk & prod=$!
sleep 0.5
kill -9 $prod
wait $pid
[ $? = 1 ] && pass || fail "zmq: a producer that died was not an error"
has zmq-producer-died $T/z.err "the producer disconnected after"
# --rate: a slow stage on purpose.
expect rate 0 "frame-cat -c --rate 50 $T/s.mpk"
has rate "$T/out" "5"
t0=$(date +%s%N)
frame-cat -F --rate 100 $T/big.mpk | frame-cat -c > /dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -ge 3000 ] && [ $ms -lt 20000 ] && pass || fail "rate: 320 frames at 100/s took $ms ms"
expect bad-rate 2 frame-cat --rate 0 $T/s.mpk
expect zmq-timeout 1 frame-cat --timeout 0.2 -c -i "@ipc://$T/nobody"
has zmq-timeout "$T/err" "timeout"
expect bad-timeout 2 frame-cat --timeout soon
expect json-to-socket 2 "frame-cat -o '>ipc://$T/x' $T/s.mpk"
has json-to-socket "$T/err" "add -F"

finish
