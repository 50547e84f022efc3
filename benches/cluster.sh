#!/usr/bin/env bash
# Cluster figures with real processes on this machine: a ZooKeeper server (Debian's `zookeeper`
# package), `ptl coordinator`, $AGENTS `ptl agent` processes and the demo target, all on loopback.
#
#  1. $RUNS steady runs of $RATE/s for $SECONDS_PER_RUN s: the bytes ZooKeeper receives in writes
#     (its own per-namespace write counter from `mntr`, all clients, and the agents' delta nodes
#     alone, from their done markers) per agent per second; the start skew across agents (each
#     agent records when its start timer fired, on ZooKeeper's clock); achieved vs planned, and
#     the result's count against the demo target's own (its `/stats`), which must be equal.
#  2. One run in which an agent is `kill -9`ed mid-phase: when the lost share's reports end (the
#     degraded window's start), when the new assignment is written (the agent's session
#     timeout, $SESSION, plus the coordinator's polling), when the survivors apply it, and the
#     achieved total against the plan and against the target's count (the requests the killed
#     agent sent after its last report are missing from the result, within its `unreported`).
#
# Usage: benches/cluster.sh                 (release binary; built if missing)
#        PTL=target/debug/ptl AGENTS=3 RATE=600 SECONDS_PER_RUN=10 RUNS=3 benches/cluster.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
agents=${AGENTS:-3}
rate=${RATE:-600}
seconds=${SECONDS_PER_RUN:-10}
runs=${RUNS:-3}
session=${SESSION:-2s}
ptl=${PTL:-${CARGO_TARGET_DIR:-$root/target}/release/ptl}
zk_server=/usr/share/zookeeper/bin/zkServer.sh
zk_cli=/usr/share/zookeeper/bin/zkCli.sh

[ -x "$zk_server" ] || { echo "ZooKeeper is not installed: apt-get install -y zookeeper" >&2; exit 1; }
if [ ! -x "$ptl" ]; then
    echo "building $ptl" >&2
    cargo build --release --quiet -p ptl
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ptl-cluster-bench.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    # zkServer.sh runs java in its own process group (setsid below): end the group.
    [ -n "${zk_pid:-}" ] && kill -9 -- "-$zk_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
four() { # four-letter word $1 to the server; prints the reply
    exec 3<>"/dev/tcp/127.0.0.1/$zk_port" && printf '%s' "$1" >&3 && cat <&3; exec 3<&-
}
mntr() { four mntr | awk -v k="$1" '$1 == k { print $2 }'; }
now_ms() { date +%s%3N; }
zk_get() { "$zk_cli" -server "$zk" get "$1" 2>/dev/null | grep '^{' | tail -1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# The requests the demo target answered so far (its control endpoints not counted).
target_count() { python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('$1/stats'))['requests'])"; }

# --- ZooKeeper --------------------------------------------------------------------------------
zk_port=$(free_port)
zk=127.0.0.1:$zk_port
mkdir -p "$work/zk/data"
cat >"$work/zk/zoo.cfg" <<EOF
tickTime=500
dataDir=$work/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
maxClientCnxns=0
EOF
ZOO_LOG_DIR="$work/zk" JMXDISABLE=true \
    SERVER_JVMFLAGS="-Xmx256m -XX:+UseSerialGC -Dzookeeper.log.dir=$work/zk" \
    setsid "$zk_server" start-foreground "$work/zk/zoo.cfg" >"$work/zk/out.log" 2>&1 &
zk_pid=$!
for _ in $(seq 100); do
    [ "$(four ruok 2>/dev/null || true)" = imok ] && break
    sleep 0.2
done
[ "$(four ruok 2>/dev/null || true)" = imok ] || { echo "ZooKeeper did not start" >&2; cat "$work/zk/out.log" >&2; exit 1; }

# --- target, coordinator, agents --------------------------------------------------------------
"$ptl" demo-target --port 0 >"$work/target.url" 2>/dev/null &
pids+=($!)
"$ptl" coordinator --zk "$zk" --name bench-coordinator 2>"$work/coordinator.log" &
pids+=($!)
agent_pids=()
for i in $(seq "$agents"); do
    "$ptl" agent --zk "$zk" --name "agent$i" --capacity 10000/s --session-timeout "$session" \
        2>"$work/agent$i.log" &
    agent_pids+=($!)
    pids+=($!)
done
for _ in $(seq 100); do
    [ -s "$work/target.url" ] && n=$("$ptl" status --zk "$zk" --json | json 'len(d["agents"])') \
        && [ "$n" = "$agents" ] && break
    sleep 0.2
done
target=$(head -1 "$work/target.url")

cat >"$work/plan.ptl" <<EOF
plan "cluster-bench" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 2s
  connections 50
  max_inflight 2000
  request hello { GET "/products/1" }
  phase steady { rate ${rate}/s for ${seconds}s }
}
EOF
planned=$((rate * seconds))

submit() { # extra args…; prints the run id (from the "submitted run-…" line)
    # A degraded run (the kill below) exits 5: its id is wanted all the same.
    "$ptl" submit "$work/plan.ptl" --zk "$zk" --agents "$agents" --wait --quiet \
        --set "target=$target" --start-delay 1s --agent-wait 20s --out "$work/result.json" \
        "$@" >/dev/null 2>"$work/submit.log" || echo "$?" >"$work/submit.exit"
    grep -o 'run-[0-9]*' "$work/submit.log" | head -1
}

# Prints "requests started_at_ms delta_bytes deltas" per agent that finished run $1.
done_markers() {
    local run=$1 agent marker
    for agent in $("$zk_cli" -server "$zk" ls "/ptl/runs/$run/done" 2>/dev/null | grep '^\[' | tr -d '[],'); do
        # A killed agent's marker stays as the coordinator made it: empty.
        marker=$(zk_get "/ptl/runs/$run/done/$agent")
        [ -n "$marker" ] || continue
        echo "$marker" |
            json '"%d %d %d %d %s" % (d["requests"], d["started_at_ms"] or 0, d["delta_bytes"], d["deltas"], " ".join("%d:%d" % (e["epoch"], e["applied_at_ms"]) for e in d.get("epochs", [])))'
    done
}

echo "ptl cluster figures: $agents agents, $rate/s for ${seconds}s, ZooKeeper $(four srvr | awk -F': ' '/version/ {print $2}' | cut -d- -f1), binary $ptl"
echo
echo "steady runs"
printf '%-16s %9s %9s %9s %13s %13s %11s %9s\n' run achieved target planned "zk B/agent/s" "delta B/ag/s" "writes/s" "skew ms"
for _ in $(seq "$runs"); do
    received_before=$(target_count "$target")
    bytes_before=$(mntr zk_sum_ptl_write_per_namespace)
    writes_before=$(mntr zk_cnt_ptl_write_per_namespace)
    t0=$(now_ms)
    run=$(submit)
    t1=$(now_ms)
    bytes_after=$(mntr zk_sum_ptl_write_per_namespace)
    writes_after=$(mntr zk_cnt_ptl_write_per_namespace)
    achieved=$(json 'd["total"]["requests"]' <"$work/result.json")
    received=$(($(target_count "$target") - received_before))
    markers=$(done_markers "$run")
    # (mawk's printf %d stops at 2^31: Unix milliseconds go through python.)
    skew=$(echo "$markers" | python3 -c 'import sys; s = [int(l.split()[1]) for l in sys.stdin if l.strip()]; print(max(s) - min(s))')
    delta_bytes=$(echo "$markers" | python3 -c 'import sys; print(sum(int(l.split()[2]) for l in sys.stdin if l.strip()))')
    # Bytes and writes over the whole submit (plan, run, assignment, state, live, deltas, done),
    # per agent per second of the run.
    elapsed_s=$(python3 -c "print(($t1 - $t0) / 1000)")
    printf '%-16s %9d %9d %9d %13.0f %13.0f %11.1f %9d\n' "$run" "$achieved" "$received" "$planned" \
        "$(python3 -c "print(($bytes_after - $bytes_before) / $agents / $seconds)")" \
        "$(python3 -c "print($delta_bytes / $agents / $seconds)")" \
        "$(python3 -c "print(($writes_after - $writes_before) / $elapsed_s)")" \
        "$skew"
    [ "$achieved" = "$received" ] || echo "  MISMATCH: the result counts $achieved, the target answered $received" >&2
done

echo
echo "kill -9 of one agent, 3 s into the phase (session timeout $session)"
received_before=$(target_count "$target")
(submit >"$work/kill.run") &
submit_pid=$!
for _ in $(seq 200); do
    # (Nothing to read before the run exists.)
    state=$("$ptl" status --zk "$zk" --json 2>/dev/null | json '[r["state"] for r in d["runs"]][-1]' 2>/dev/null || true)
    [ "$state" = running ] && break
    sleep 0.05
done
# zkCli.sh (a JVM) now and then answers nothing on a loaded machine: asked again.
for _ in $(seq 10); do
    assignment=$(zk_get "/ptl/runs/$("$ptl" status --zk "$zk" --json | json 'd["runs"][-1]["id"]')/assignment")
    [ -n "$assignment" ] && break
done
start_ms=$(echo "$assignment" | json 'd["start_at_ms"]')
sleep "$(python3 -c "print(max(0, ($start_ms + 3000 - $(now_ms)) / 1000))")"
kill_ms=$(now_ms)
kill -9 "${agent_pids[1]}"
wait "${agent_pids[1]}" 2>/dev/null || true
wait "$submit_pid" || true
run=$(cat "$work/kill.run")
for _ in $(seq 10); do
    state=$(zk_get "/ptl/runs/$run/state")
    [ -n "$state" ] && break
done
from_ms=$(echo "$state" | json 'd["degraded"][0]["from_ms"]')
until_ms=$(echo "$state" | json 'd["degraded"][0]["until_ms"]')
applied_ms=$(done_markers "$run" | python3 -c '
import sys
applied = [int(e.split(":")[1]) for l in sys.stdin for e in l.split()[4:] if ":" in e]
print(max(applied, default=0))')
achieved=$(json 'd["total"]["requests"]' <"$work/result.json")
echo "  submit --wait exited $(cat "$work/submit.exit" 2>/dev/null || echo 0) (5: degraded, as it must be)"
echo "  degraded from (its last report)   $((from_ms - kill_ms)) ms after the kill"
echo "  new assignment (epoch 1) written  $((until_ms - kill_ms)) ms after the kill"
if [ "$applied_ms" -gt 0 ]; then
    echo "  applied by the last survivor      $((applied_ms - kill_ms)) ms after the kill"
else
    echo "  applied by the survivors          (not recorded by these agents)"
fi
echo "  achieved $achieved of $planned planned ($(python3 -c "print(round(100 * $achieved / $planned, 1))") %)"
received=$(($(target_count "$target") - received_before))
unreported=$(json 'd["accounting"]["unreported"]' <"$work/result.json")
echo "  the target answered $received: $((received - achieved)) not in the result, counted unreported up to $unreported"
