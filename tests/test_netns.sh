#!/bin/sh
# Across hosts: a producer, two workers and a sink (frame-hub runs at the
# sink), each in its own network namespace, joined by veth pairs to a
# bridge in a fifth; addresses exist only inside them, and all of it is
# torn down at the end. Each host has its CURVE key pair; the hub lets in
# the producer's and the workers' keys (pathfm(7), SECURITY). One worker is killed mid-stream: the sink must
# hold every input frame id exactly once, in order. Where namespaces are
# not permitted (not root, a container without CAP_NET_ADMIN) the same
# runs on loopback addresses, and says so.
. tests/lib.sh
tag=pfm$$
names=
teardown() {
	for ns in $names; do ip netns del "$ns" 2>/dev/null; done
}
trap 'teardown; rm -rf "$T"' EXIT

# host NAME NUMBER: a namespace with eth0 = 10.77.0.NUMBER on the bridge.
host() {
	ns=$tag$1
	ip netns add "$ns" && names="$names $ns" &&
	ip link add "v$tag$2" type veth peer name "e$tag$2" &&
	ip link set "v$tag$2" netns "${tag}lan" &&
	ip link set "e$tag$2" netns "$ns" &&
	ip -n "${tag}lan" link set "v$tag$2" master br0 up &&
	ip -n "$ns" link set "e$tag$2" name eth0 &&
	ip -n "$ns" addr add "10.77.0.$2/24" dev eth0 &&
	ip -n "$ns" link set eth0 up &&
	ip -n "$ns" link set lo up
}
netns=0
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 &&
   ip netns add "${tag}lan" 2>/dev/null; then
	names="${tag}lan"
	if ip -n "${tag}lan" link add br0 type bridge &&
	   ip -n "${tag}lan" link set br0 up &&
	   host prod 1 && host w1 2 && host w2 3 && host sink 4; then
		netns=1
	else
		teardown
		names=
	fi
fi
if [ $netns = 1 ]; then
	echo "  hosts: network namespaces $tag{prod,w1,w2,sink} on 10.77.0.0/24"
	# Run on a host: ip execs the command, so $! is its pid.
	P="ip netns exec ${tag}prod" W1="ip netns exec ${tag}w1"
	W2="ip netns exec ${tag}w2" S="ip netns exec ${tag}sink"
	SINK=10.77.0.4
	# The addresses are theirs, not this namespace's.
	ip -o addr | grep -q "10\.77\.0\." && fail "addresses leaked into this namespace" || pass
	$S ip -o addr | grep -q "10\.77\.0\.4/" && pass || fail "sink has no address"
else
	echo "note: network namespaces not permitted here (needs root and CAP_NET_ADMIN): the hosts are loopback addresses 127.0.0.2-5"
	P= W1= W2= S=
	SINK=127.0.0.5
fi

# Frames with distinct ids (x), 3000 of them.
awk 'BEGIN { for (i = 0; i < 3000; i++)
	printf "{\"type\":\"tile\",\"v\":1,\"slide_id\":\"s\",\"x\":%d,\"y\":0,\"level\":0,\"mpp\":0.5,\"width\":1,\"height\":1,\"encoding\":\"rgb8\",\"pixels\":{\"$base64\":\"AAAA\"}}\n", i }' |
	frame-cat -J -o $T/in.mpk
# Keys: the sink's hub is the CURVE server of both its endpoints.
mkdir $T/keys $T/allowed
(cd $T/keys && pfm-keygen sink prod w1 w2) || fail "pfm-keygen"
cp $T/keys/prod.pub $T/keys/w1.pub $T/keys/w2.pub $T/allowed/
client() { echo "--curve-secret $T/keys/$1.key --curve-server $T/keys/sink.pub"; }
port=$((20000 + $$ % 20000))
IN="tcp://$SINK:$port" WORK="tcp://$SINK:$((port + 1))"
$S timeout 60 frame-hub --heartbeat 1 --timeout 30 -i "@$IN" -w "@$WORK" \
	--curve-secret $T/keys/sink.key --curve-allow $T/allowed \
	-o $T/out.mpk 2>$T/hub.err & hub=$!
W="frame-cat -F --rate 1200 --timeout 30 -i hub:$WORK -o hub:$WORK"
$W1 $W $(client w1) 2>$T/w1.err & w1=$!
$W2 $W $(client w2) 2>$T/w2.err & w2=$!
$P timeout 60 frame-cat -F --timeout 30 $(client prod) -o ">$IN" $T/in.mpk & prod=$!
sleep 0.8
kill -9 $w1
wait $prod && pass || fail "producer failed"
wait $hub && pass || fail "hub failed: $(cat $T/hub.err)"
wait $w2 && pass || fail "worker 2 failed: $(cat $T/w2.err)"
wait $w1 2>/dev/null
has killed-mid-stream $T/hub.err "lost; "
# Exactly the input's frame ids, once each, in order; the same bytes.
frame-cat $T/in.mpk | jq -c .x > $T/want.ids
frame-cat $T/out.mpk | jq -c .x > $T/got.ids
same ids-exactly-once $T/want.ids $T/got.ids
same bytes $T/in.mpk $T/out.mpk
finish
