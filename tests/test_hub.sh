#!/bin/sh
# frame-hub and hub: workers, over ipc on this host (tests/test_netns.sh
# does it across network namespaces): CLI and man page; order and
# exactly once with 2 workers; unordered; workers that join late, are
# killed, frozen past the heartbeat, or fail; a frame that kills every
# worker; stages that drop and batch frames (marks); the end of stream
# with no workers yet or an empty input; a producer, a sink and the hub
# that die or restart; chains; memory with a slow sink. Every wait is
# bounded (timeout, --timeout, bounded loops).
. tests/lib.sh
n=0
# ep VAR...: a new ipc endpoint in each VAR
ep() { for v; do n=$((n + 1)); eval "$v=ipc://\$T/h$n"; done; }
TO="timeout 60"
# gen N BYTES FILE: N tile frames (x = 0..N-1) of BYTES pixel bytes; every
# third one a result frame when MIXED=1.
gen() {
	awk -v n="$1" -v b="$2" -v mixed="${MIXED:-0}" 'BEGIN {
		px = ""; for (i = 0; i < b / 3; i++) px = px "AAAA"
		for (i = 0; i < n; i++)
			if (mixed && i % 3 == 2)
				printf "{\"type\":\"result\",\"v\":1,\"task\":\"t\",\"model\":\"m\",\"metric\":\"auc\",\"value\":%d}\n", i
			else
				printf "{\"type\":\"tile\",\"v\":1,\"slide_id\":\"s\",\"x\":%d,\"y\":0,\"level\":0,\"mpp\":0.5,\"width\":%d,\"height\":1,\"encoding\":\"rgb8\",\"pixels\":{\"$base64\":\"%s\"}}\n", i, b / 3, px
	}' | frame-cat -J -o "$3"
}
# worker EP [OPTION]...: a frame-cat worker in the background ($! its
# pid). Workers start first, as on a cluster: a worker that connects
# after its hub has finished would wait for one (--timeout bounds it).
worker() { w=$1; shift; frame-cat -F --timeout 10 "$@" -i "hub:$w" -o "hub:$w" & }
W="frame-cat -F --timeout 10"
gen 3000 30 $T/in.mpk

# CLI conventions; every option in --help is in the man page.
expect help 0 frame-hub --help
has help "$T/out" "Usage: frame-hub"
sed 's/\\-/-/g' man/man1/frame-hub.1 > "$T/man"
for o in $(frame-hub --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "$o" "$T/man" && pass || fail "man page lacks $o"
done
expect man-renders 0 "MANWIDTH=80 man -l man/man1/frame-hub.1 2>&1 >/dev/null | grep -c . | grep -qx 0"
expect version 0 frame-hub --version
has version "$T/out" "frame-hub (pathfm)"
expect no-work 2 frame-hub
has no-work "$T/err" "give -w"
expect bad-window 2 frame-hub -w ipc://$T/x --window 0
expect bad-heartbeat 2 frame-hub -w ipc://$T/x --heartbeat soon
expect hub-as-input 2 frame-hub -w ipc://$T/x -i hub:ipc://$T/y
expect bad-option 2 frame-hub --bogus
has bad-option "$T/err" "Try 'frame-hub --help'"

# Two workers: every frame once, in order: the bytes of the input.
ep H
worker $H; worker $H
sleep 0.2
$TO frame-hub -w $H -i $T/in.mpk -o $T/out.mpk 2>$T/hub.err & hub=$!
wait $hub && pass || fail "hub: $(cat $T/hub.err)"
wait
same two-workers $T/in.mpk $T/out.mpk
empty two-workers-quiet $T/hub.err

# Unordered: the same set.
ep H
worker $H --rate 3000; worker $H
sleep 0.2
$TO frame-hub --unordered -w $H -i $T/in.mpk -o $T/un.mpk 2>$T/hub.err & hub=$!
wait $hub && pass || fail "unordered hub: $(cat $T/hub.err)"
wait
frame-cat $T/in.mpk | sort > $T/want.jsonl
frame-cat $T/un.mpk | sort > $T/got.jsonl
same unordered-set $T/want.jsonl $T/got.jsonl

# A worker killed mid-stream (SIGKILL): its frames go to the other one;
# what it had already sent is not written twice.
ep H
worker $H --rate 1500; w1=$!
worker $H --rate 1500; w2=$!
sleep 0.2
$TO frame-hub --heartbeat 1 -w $H -i $T/in.mpk -o $T/kill.mpk 2>$T/hub.err & hub=$!
sleep 0.6
kill -9 $w1
wait $hub && pass || fail "kill: hub: $(cat $T/hub.err)"
wait $w2 && pass || fail "kill: the other worker failed"
same kill-exactly-once $T/in.mpk $T/kill.mpk
has kill-reported $T/hub.err "lost; "
has kill-resent $T/hub.err "frames go to other workers"

# A worker frozen past the heartbeat: lost, its frames done elsewhere;
# woken, it learns it was dropped and fails.
ep H
worker $H --rate 1500 2>$T/w1.err; w1=$!
worker $H --rate 1500; w2=$!
sleep 0.2
$TO frame-hub --heartbeat 0.5 -w $H -i $T/in.mpk -o $T/frozen.mpk 2>$T/hub.err & hub=$!
sleep 0.5
kill -STOP $w1
wait $hub && pass || fail "freeze: hub: $(cat $T/hub.err)"
kill -CONT $w1
wait $w1
[ $? = 1 ] && pass || fail "freeze: the woken worker did not fail"
wait
same freeze-exactly-once $T/in.mpk $T/frozen.mpk
has freeze-silent $T/hub.err "was silent for"
has freeze-told $T/w1.err "dropped this worker"

# The hub first, workers later, one after the other: all of them work.
ep H
$TO frame-hub -w $H -i $T/in.mpk -o $T/late.mpk 2>$T/hub.err & hub=$!
sleep 0.3
worker $H --rate 2000 --progress 2>$T/w1.err
sleep 0.5
worker $H --progress 2>$T/w2.err
wait $hub && pass || fail "late: hub: $(cat $T/hub.err)"
wait
same late-workers $T/in.mpk $T/late.mpk
k1=$(tr '\r' '\n' < $T/w1.err | tail -n 1 | sed -n 's/.*: \([0-9]*\) frames.*/\1/p')
k2=$(tr '\r' '\n' < $T/w2.err | tail -n 1 | sed -n 's/.*: \([0-9]*\) frames.*/\1/p')
[ "${k1:-0}" -gt 0 ] && [ "${k2:-0}" -gt 0 ] && [ $((k1 + k2)) = 3000 ] && pass ||
	fail "late: workers did $k1 + $k2 frames, wanted 3000 between both"
# A worker started before its hub waits for it.
ep H
worker $H
sleep 0.3
expect worker-first 0 "$TO frame-hub -w $H -i $T/in.mpk -o $T/first.mpk"
wait
same worker-first $T/in.mpk $T/first.mpk

# A frame every stage fails on: each worker that takes it fails and its
# frames go on; past --retries the hub gives up and names it.
gen 40 30 $T/small.mpk
gen 1 3000 $T/big.mpk
{ frame-cat -F -n 20 $T/small.mpk; frame-cat -F $T/big.mpk; } | frame-cat -F --lenient > $T/poison.mpk
ep H
worker $H --max-frame 2000 2>/dev/null; worker $H --max-frame 2000 2>/dev/null
sleep 0.2
$TO frame-hub --retries 1 -w $H -i $T/poison.mpk -o $T/p.mpk 2>$T/hub.err & hub=$!
wait $hub
[ $? = 1 ] && pass || fail "poison: hub did not fail"
wait
has poison-named $T/hub.err "frame 20 was taken by 2 workers that died or failed"
has poison-retries $T/hub.err "(--retries 1)"
[ ! -e $T/p.mpk ] && pass || fail "poison: partial output left"

# A stage that drops frames: order and the end come from what it keeps
# and from marks (a window of 2 forces them mid-stream).
MIXED=1 gen 600 30 $T/mixed.mpk
frame-cat -F -t result $T/mixed.mpk > $T/want.mpk
ep H
expect dropping 0 "$W -t result -i hub:$H -o hub:$H & $W -t result -i hub:$H -o hub:$H & \
	sleep 0.2; $TO frame-hub --window 2 -w $H -i $T/mixed.mpk -o $T/drop.mpk & wait"
same dropping-kept $T/want.mpk $T/drop.mpk
ep H
expect drop-all 0 "$W -t embedding -i hub:$H -o hub:$H & \
	sleep 0.2; $TO frame-hub --window 3 -w $H -i $T/in.mpk -o $T/none.mpk & wait"
expect drop-all-count 0 frame-cat -c $T/none.mpk
has drop-all-count "$T/out" "0"

# A batching stage (embed, batch 8, window 4: marks flush partial
# batches): every tile embedded once, in order.
if [ -x .venv/bin/python ] && .venv/bin/python tests/ref/embed_ref.py make $T >/dev/null 2>&1; then
	wsi-tile -q --no-mask --assume-mpp 0.5 --size 224 --stride 200 -e rgb8 \
		tests/data/he-1024-a.png | frame-cat -F -n 20 > $T/tiles.mpk
	ep H
	E="embed -q -m $T/s16.safetensors -b 8 --timeout 30 -i hub:$H -o hub:$H"
	expect embed-workers 0 "$E & $E & sleep 0.5; $TO frame-hub --window 4 -w $H -i $T/tiles.mpk -o $T/emb.mpk & wait"
	frame-cat $T/tiles.mpk | jq -c '[.x, .y]' > $T/want.ids
	frame-cat $T/emb.mpk | jq -c '[.x, .y]' > $T/got.ids
	same embed-ids $T/want.ids $T/got.ids
	expect embed-type 0 "frame-cat -c -t embedding $T/emb.mpk | grep -qx 20"
else
	echo "note: no .venv (make deps): embed workers not tested here"
fi

# The end of stream: an empty input ends at once, with no worker.
frame-cat -F -n 0 $T/in.mpk > $T/empty.mpk
ep H
expect empty-input 0 "$TO frame-hub -w $H -i $T/empty.mpk | frame-cat -c"
has empty-input "$T/out" "0"
# No worker ever: --timeout says so.
ep H
expect no-worker 1 "$TO frame-hub --timeout 0.5 -w $H -i $T/in.mpk -o $T/x.mpk"
has no-worker "$T/err" "no worker is connected"
[ ! -e $T/x.mpk ] && pass || fail "no-worker: output left"

# Bad input: cut, or with the reserved key.
head -c 5000 $T/in.mpk > $T/cut.mpk
ep H
worker $H 2>/dev/null
expect cut-input 1 "$TO frame-hub -w $H -i $T/cut.mpk -o $T/x.mpk"
has cut-input "$T/err" "truncated"
wait
printf '{"type":"tile","v":1,"_seq":5}\n' | frame-cat -J > $T/seq.mpk
ep H
expect reserved-key 1 "$TO frame-hub -w $H -i $T/seq.mpk"
has reserved-key "$T/err" "has the key _seq, which frame-hub keeps for frame ids"
printf '{"type":"sync","v":1}\n' | frame-cat -J > $T/sync.mpk
ep H
expect reserved-type 1 "$TO frame-hub -w $H -i $T/sync.mpk"
has reserved-type "$T/err" "is of type sync, which frame-hub keeps"

# The worker side: both ends on the hub; no hub within --timeout.
ep H
expect half-worker 1 "frame-cat -F -i hub:$H > /dev/null"
has half-worker "$T/err" "as both input (-i) and output (-o)"
ep H
expect no-hub 1 "frame-cat -F --timeout 0.5 -i hub:$H -o hub:$H"
has no-hub "$T/err" "no hub answered within 0.5 s"
expect json-to-hub 2 "frame-cat -i hub:$H -o hub:$H"

# The hub dies: its workers say so within the heartbeat.
ep H
frame-hub --heartbeat 1 -w $H -i $T/in.mpk -o $T/x.mpk 2>/dev/null & hub=$!
worker $H --rate 500 2>$T/w1.err; w1=$!
sleep 0.5
kill -9 $hub
wait $w1
[ $? = 1 ] && pass || fail "hub died: worker did not fail"
has hub-died $T/w1.err "no word from the hub"
# ... or restarts: the new hub does not know them.
ep H
frame-hub -w $H -i $T/in.mpk -o $T/x.mpk 2>/dev/null & hub=$!
worker $H --rate 500 2>$T/w1.err; w1=$!
sleep 0.5
kill -9 $hub
wait $hub 2>/dev/null
$TO frame-hub --timeout 5 -w $H -i $T/in.mpk -o $T/x.mpk 2>/dev/null & hub=$!
wait $w1
[ $? = 1 ] && pass || fail "hub restarted: worker did not fail"
has hub-restarted $T/w1.err "the hub restarted"
kill $hub 2>/dev/null
wait $hub 2>/dev/null

# The producer dies mid-stream: the hub fails at once and says so.
ep H I
worker $H 2>/dev/null
$TO frame-hub -w $H -i "@$I" -o $T/x.mpk 2>$T/hub.err & hub=$!
frame-cat -F --rate 1000 -o ">$I" $T/in.mpk & prod=$!
sleep 0.5
kill -9 $prod
wait $hub
[ $? = 1 ] && pass || fail "producer died: hub did not fail"
has producer-died $T/hub.err "the producer disconnected after"
wait
# The sink dies mid-stream: the same.
ep H O
worker $H 2>/dev/null
$TO frame-hub -w $H -i $T/in.mpk -o "@$O" 2>$T/hub.err & hub=$!
frame-cat -c --rate 1000 -i ">$O" > /dev/null & sink=$!
sleep 0.5
kill -9 $sink
wait $hub
[ $? = 1 ] && pass || fail "sink died: hub did not fail"
has sink-died $T/hub.err "the reader disconnected after"
wait

# A chain of two hubs, two workers each; the second one's sink is slow.
ep A B
expect chain 0 "$W -i hub:$A -o hub:$A & $W -i hub:$A -o hub:$A & \
	$W -i hub:$B -o hub:$B & $W -i hub:$B -o hub:$B & sleep 0.2; \
	$TO frame-hub -w $A -i $T/in.mpk | $TO frame-hub -w $B | frame-cat -F --rate 20000 > $T/chain.mpk & wait"
same chain $T/in.mpk $T/chain.mpk

# Memory with a slow sink: a stream larger than the hub's peak RSS may be
# goes through with that peak bounded. PFM_HUB_MEM_FRAMES frames of 24 kB
# (default 4000: 96 MB) to a sink that takes 4000 a second;
# tests/perf/zmq-scale.sh runs 10^6. ASan's quarantine (freed memory it
# keeps) is off for the hub, or it would be most of what is measured.
N=${PFM_HUB_MEM_FRAMES:-4000}
gen 100 24000 $T/mem100.mpk
i=0
while [ $i -lt $(((N + 99) / 100)) ]; do cat $T/mem100.mpk; i=$((i + 1)); done |
	frame-cat -F -n "$N" > $T/mem.mpk
ep H
mkfifo $T/memfifo
frame-cat -c --rate 4000 $T/memfifo > $T/mem.count &
worker $H; worker $H
sleep 0.2
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0 \
	frame-hub -w $H -i $T/mem.mpk -o $T/memfifo 2>$T/hub.err & hub=$!
peak=0 i=0
while [ -e /proc/$hub/status ] && [ $i -lt 600 ]; do
	kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$hub/status 2>/dev/null)
	[ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
	sleep 0.1
	i=$((i + 1))
done
[ $i -lt 600 ] || kill -9 $hub
wait
has mem-count $T/mem.count "$N"
mb=$(($(wc -c < $T/mem.mpk) / 1048576))
echo "  frame-hub peak RSS with a slow sink: $((peak / 1024)) MiB for $N frames ($mb MiB)"
[ "$peak" -gt 0 ] && [ "$peak" -lt 65536 ] && pass || fail "memory: peak $peak kB"

finish
