#!/bin/sh
# pipelines/scale: a stage on N workers behind frame-hub, locally, over
# ssh and under Slurm. ssh and srun are stand-ins on PATH that run the
# worker here (what they are handed is checked), since the test has no
# other hosts; tests/test_netns.sh does the hub across hosts.
. tests/lib.sh
S=pipelines/scale
export PFM_BIN=$BIN
awk 'BEGIN { for (i = 0; i < 2000; i++)
	printf "{\"type\":\"tile\",\"v\":1,\"slide_id\":\"s\",\"x\":%d,\"y\":0,\"level\":0,\"mpp\":0.5,\"width\":1,\"height\":1,\"encoding\":\"rgb8\",\"pixels\":{\"$base64\":\"AAAA\"}}\n", i }' |
	frame-cat -J -o $T/in.mpk

expect help 0 sh $S --help
has help "$T/out" "Usage: pipelines/scale"
for o in --workers --hosts --srun --hub-host --port --ssh --srun-args --hub-opts --bin --insecure; do
	has "help$o" "$T/out" "$o"
done
expect version 0 sh $S --version
has version "$T/out" "scale (pathfm)"
expect no-stage 2 sh $S -w 2
has no-stage "$T/err" "no stage"
expect bad-option 2 sh $S --bogus -- frame-cat
expect bad-workers 2 sh $S -w x -- frame-cat
expect hosts-and-srun 2 sh $S --hosts a --srun -- frame-cat

# Local workers: the output is the input (frame-cat -F as the stage).
expect local 0 "timeout 60 sh $S -w 2 -- frame-cat -F < $T/in.mpk > $T/out.mpk"
same local $T/in.mpk $T/out.mpk
# Options reach the hub and the stage (quoted words survive).
expect local-opts 0 "timeout 60 sh $S -w 1 --hub-opts '--unordered --window 4' -- frame-cat -F -t 'tile' < $T/in.mpk | frame-cat -c"
has local-opts "$T/out" "2000"

# ssh: a stand-in that logs the host and runs the command here.
mkdir $T/fake
cat > $T/fake/ssh <<'EOF'
#!/bin/sh
while [ $# -gt 2 ]; do shift; done
echo "$1" >> "$FAKE_LOG"
exec sh -c "$2"
EOF
cat > $T/fake/srun <<'EOF'
#!/bin/sh
# srun -n N [ARGS] sh -c CMD: N copies here; like srun, a TERM or INT
# goes on to the tasks (else a task that joined after the end would
# outlive the test)
echo "srun $*" >> "$FAKE_LOG"
n=$2; shift 2
while [ "$1" != sh ]; do shift; done
kids=
trap 'kill $kids 2>/dev/null; exit 143' TERM INT
i=0
while [ $i -lt "$n" ]; do "$@" & kids="$kids $!"; i=$((i + 1)); done
wait
EOF
chmod +x $T/fake/ssh $T/fake/srun
export FAKE_LOG=$T/fake.log
port=$((20000 + $$ % 20000))
expect ssh 0 "PATH=$T/fake:\$PATH timeout 60 sh $S --hosts 'node1*2,node2' -w 3 --insecure --hub-host 127.0.0.1 --port $port -- frame-cat -F < $T/in.mpk > $T/ssh.mpk"
same ssh $T/in.mpk $T/ssh.mpk
sort $T/fake.log | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ' > $T/hosts
has ssh-hosts $T/hosts "node1=2 node2=1"
printf 'node3\n# a comment\n\nnode4\n' > $T/hostfile
rm -f $T/fake.log
expect ssh-hostfile 0 "PATH=$T/fake:\$PATH timeout 60 sh $S --hosts @$T/hostfile --insecure --hub-host 127.0.0.1 --port $((port + 1)) -- frame-cat -F < $T/in.mpk > $T/ssh2.mpk"
same ssh-hostfile $T/in.mpk $T/ssh2.mpk
has ssh-hostfile-hosts $T/fake.log "node4"
rm -f $T/fake.log
expect srun 0 "PATH=$T/fake:\$PATH timeout 60 sh $S --srun -w 2 --srun-args '--gres=gpu:1' --insecure --hub-host 127.0.0.1 --port $((port + 2)) -- frame-cat -F < $T/in.mpk > $T/srun.mpk"
same srun $T/in.mpk $T/srun.mpk
has srun-args $T/fake.log "srun -n 2 --gres=gpu:1 sh -c"

# Over tcp the hub binds every interface: without keys or --insecure it
# refuses to start (and says why); with one key pair for the job, in the
# environment, hub and workers talk CURVE.
expect cleartext-refused 2 "PATH=$T/fake:\$PATH timeout 60 sh $S --srun -w 1 --hub-host 127.0.0.1 --port $((port + 3)) -- frame-cat -F < $T/in.mpk > $T/x.mpk"
has cleartext-refused "$T/err" "refusing to bind tcp://0.0.0.0:$((port + 3)) without CURVE keys"
mkdir $T/allowed
(cd $T && pfm-keygen job) && cp $T/job.pub $T/allowed/
expect srun-curve 0 "PATH=$T/fake:\$PATH PFM_CURVE_SECRET=$T/job.key PFM_CURVE_SERVER=$T/job.pub PFM_CURVE_ALLOW=$T/allowed timeout 60 sh $S --srun -w 2 --hub-host 127.0.0.1 --port $((port + 4)) -- frame-cat -F < $T/in.mpk > $T/srun-curve.mpk"
same srun-curve $T/in.mpk $T/srun-curve.mpk

# Workers that cannot run: an error, not a hang.
expect no-workers 1 "timeout 60 sh $S -w 2 -- frame-cat --bogus < $T/in.mpk > $T/x.mpk"
has no-workers "$T/err" "every worker exited before the end of the stream"
finish
