#!/usr/bin/env bash
# The runtime's performance benchmark (issue 3, "Performance"): ptl against wrk and oha on this
# machine, every ratio measured in the same run. The generator runs on core 0
# (`taskset -c 0`), the target on core 1: nginx (one worker, `return 200`, no access log) for
# throughput and memory, `ptl demo-target` (hyper) frozen for 1 s with SIGSTOP for the stall.
# Everything listens on 127.0.0.1, is bounded in time and is stopped on exit.
#
# Usage: benches/http.sh [--quick] [--runs N] [--only LIST] [--no-build] [--keep DIR]
#   --quick     one run of each, shorter durations (about 5 minutes instead of 11)
#   --runs N    runs per measurement, medians reported (default 3; 1 with --quick)
#   --only LIST measures to run, e.g. `--only 1,3` (numbers below; default all)
#   --no-build  use target/release/ptl as it is (default: cargo build --release -p ptl first)
#   --keep DIR  copy the raw outputs (ptl JSON, wrk/oha output, /usr/bin/time lines) to DIR
#
# Measures
#   1. saturation: `users 50 for 10s` vs `wrk -t1 -c50 -d10s`: requests/s, requests per
#      generator CPU-second (user+sys from /usr/bin/time), peak RSS
#   2. open loop at 1,000 / 10,000 / 30,000 per second on 200 connections (OL_CONNS): rate held
#      within the schedule (from the series) and as the JSON reports it, lag, CPU; oha -q 30000
#      right after each ptl run at 30,000/s
#   3. a 1 s stall of the target during 10 s at 1,000/s: response-time p99 against the truth,
#      service-time p99 against a run without the stall (and oha with and without
#      --latency-correction through the same stall)
#   4. peak RSS at 1,000 and 10,000 connections, and after 10 s vs 60 s (20 s with --quick)
#   5. request building in the VM: `cargo bench -p ptl-engine --bench vm`
# oha comes from crates.io into benches/.tools (git-ignored); without it its rows say "n/a".
set -euo pipefail

# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
quick=0 runs="" only="1,2,3,4,5" common=()
# This script's own options; the rest are every benchmark's (bench_args).
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --only) only=$2; shift ;;
        *) common+=("$1") ;;
    esac
    shift
done
bench_args "${common[@]}"
if [ "$quick" = 1 ]; then
    runs=${runs:-1} sat_d=5 ol_d=5 mem_long=20
else
    runs=${runs:-3} sat_d=10 ol_d=10 mem_long=60
fi
# Open-loop pool (ptl and oha alike): OL_CONNS=50 to cap in-flight requests like `-c 50`.
ol_conns=${OL_CONNS:-200}
# The stall's truth (about 900 ms) assumes 10 s at 1,000/s: kept in both modes.
stall_d=10 stall_rate=1000 stall_at=4.5 stall_len=1.0

need nginx wrk jq taskset python3 /usr/bin/time
[ "$(nproc --all)" -ge 2 ] || { echo "needs two cores (generator on 0, target on 1)" >&2; exit 2; }

bench_begin http

# 10,000 connections on each side, plus files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 10100 ] ||
    echo "warning: ulimit -n is $(ulimit -n); the 10,000-connection run will fail" >&2

# ---------------------------------------------------------------- tools

use_ptl

oha="$benches/.tools/bin/oha"
if [ ! -x "$oha" ]; then
    log "cargo install oha --locked --root benches/.tools"
    if ! cargo install oha --locked --root "$benches/.tools" >"$work/oha-install.log" 2>&1; then
        echo "warning: oha did not build (see --keep DIR: oha-install.log); continuing without it" >&2
    fi
fi
[ -x "$oha" ] || oha=""

# ---------------------------------------------------------------- helpers



demo_port="" demo_pid=""
start_demo_target() {
    demo_port=$(free_port)
    taskset -c 1 "$ptl" demo-target --port "$demo_port" >"$work/demo-target.log" 2>&1 &
    demo_pid=$!
    pids+=("$demo_pid")
    wait_port "$demo_port"
}



want() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 1. saturation

if want 1 || want 2 || want 4; then
    start_nginx
    url="http://127.0.0.1:$nginx_port/"
    log "nginx on $url (pid $nginx_pid, core 1); generator on core 0; $runs run(s) per figure"
fi

if want 1; then
sat_p_rps=() sat_p_eff=() sat_p_rss=() sat_w_rps=() sat_w_eff=() sat_w_rss=() sat_p_err=()
for i in $(seq "$runs"); do
    log "saturation $i/$runs: ptl users 50 for ${sat_d}s"
    ptl_run "sat-ptl-$i" closed.ptl --set "target=\"http://127.0.0.1:$nginx_port\"" \
        --set users=50 --set "duration=${sat_d}s"
    reqs=$(jqf "sat-ptl-$i" '.total.requests')
    sat_p_rps+=("$(jqf "sat-ptl-$i" '.phases[0].achieved_rps')")
    sat_p_err+=("$(jqf "sat-ptl-$i" '.total.errors')")
    sat_p_eff+=("$(ratio "$reqs" "$(cpu_s "$work/sat-ptl-$i")")")
    sat_p_rss+=("$(rss_mib "$work/sat-ptl-$i")")

    log "saturation $i/$runs: wrk -t1 -c50 -d${sat_d}s"
    gen "$work/sat-wrk-$i" wrk -t1 -c50 -d"${sat_d}s" "$url" >"$work/sat-wrk-$i.txt" 2>&1
    reqs=$(awk '/requests in/ {print $1}' "$work/sat-wrk-$i.txt")
    sat_w_rps+=("$(awk '/^Requests\/sec/ {print $2}' "$work/sat-wrk-$i.txt")")
    sat_w_eff+=("$(ratio "$reqs" "$(cpu_s "$work/sat-wrk-$i")")")
    sat_w_rss+=("$(rss_mib "$work/sat-wrk-$i")")
done
p=$(median "${sat_p_rps[@]}") w=$(median "${sat_w_rps[@]}") r=$(ratio "$p" "$w")
row "1 saturation c=50: requests/s" "$(fmt "$p")" "wrk $(fmt "$w")" "$r" "≥ 1.0" "$(verdict "$r" ">=" 1.0)"
p=$(median "${sat_p_eff[@]}") w=$(median "${sat_w_eff[@]}") r=$(ratio "$p" "$w")
row "1 saturation: requests per CPU-second" "$(fmt "$p")" "wrk $(fmt "$w")" "$r" "≥ 1.0" "$(verdict "$r" ">=" 1.0)"
p=$(median "${sat_p_rss[@]}") w=$(median "${sat_w_rss[@]}")
row "1 saturation: peak RSS MiB" "$p" "wrk $w" "$(ratio "$p" "$w")" "" ""
row "1 saturation: ptl errors" "$(median "${sat_p_err[@]}")" "" "" "" ""
fi

# ---------------------------------------------------------------- 2. open loop

if want 2; then
# `achieved_rps` in the JSON counts requests started late, after the phase's end, in the
# phase; "in time" counts only the seconds of the schedule (the series, t < duration), which
# is what holding the rate means. oha runs right after each ptl run at 30,000/s, so both see
# the same machine.
for rate in 1000 10000 30000; do
    ach=() intime=() cpu=() lag50=() lag99=() drop=() us=() oha_cpu=() oha_ach=() oha_us=()
    for i in $(seq "$runs"); do
        log "open loop $i/$runs: ptl rate ${rate}/s for ${ol_d}s"
        name="open-$rate-$i"
        ptl_run "$name" open.ptl --set "target=\"http://127.0.0.1:$nginx_port\"" \
            --set "rate=${rate}/s" --set "duration=${ol_d}s" --set "connections=$ol_conns"
        ach+=("$(jqf "$name" '.phases[0].achieved_rps / .phases[0].target_rps')")
        intime+=("$(jqf "$name" "[.series[] | select(.t < $ol_d) | .achieved_rps] | add / ($ol_d * $rate)")")
        cpu+=("$(cpu_s "$work/$name")")
        us+=("$(ratio "$(cpu_s "$work/$name")" "$(jqf "$name" '.total.requests / 1e6')")")
        lag50+=("$(jqf "$name" '.phases[0].schedule_lag_ms.p50')")
        lag99+=("$(jqf "$name" '.phases[0].schedule_lag_ms.p99')")
        drop+=("$(jqf "$name" '.phases[0].dropped + .phases[0].errors')")
        if [ "$rate" = 30000 ] && [ -n "$oha" ]; then
            log "open loop $i/$runs: oha -q 30000 -c $ol_conns -z ${ol_d}s"
            gen "$work/open-oha-$i" "$oha" -z "${ol_d}s" -q 30000 -c "$ol_conns" --no-tui --output-format json "$url" \
                >"$work/open-oha-$i.json" 2>"$work/open-oha-$i.log"
            oha_cpu+=("$(cpu_s "$work/open-oha-$i")")
            oha_ach+=("$(jq -r '.summary.requestsPerSec / 30000' "$work/open-oha-$i.json")")
            oha_us+=("$(ratio "$(cpu_s "$work/open-oha-$i")" \
                "$(jq -r '[.statusCodeDistribution[]] | add / 1e6' "$work/open-oha-$i.json")")")
        fi
    done
    a=$(median "${intime[@]}")
    row "2 open ${rate}/s: achieved in time / target" "$(fmt "$a" 4)" \
        "$([ "$rate" = 30000 ] && [ -n "$oha" ] && echo "oha $(fmt "$(median "${oha_ach[@]}")" 4)")" "" "0.995–1.005" \
        "$(awk -v a="$a" 'BEGIN {print (a >= 0.995 && a <= 1.005) ? "pass" : "FAIL"}')"
    row "2 open ${rate}/s: achieved_rps / target (JSON), lag p50 / p99 ms" \
        "$(fmt "$(median "${ach[@]}")" 4), $(fmt "$(median "${lag50[@]}")" 2) / $(fmt "$(median "${lag99[@]}")" 2) ms" "" "" "" ""
    row "2 open ${rate}/s: ptl CPU-s, CPU-µs per request, dropped+errors" \
        "$(fmt "$(median "${cpu[@]}")" 2) s, $(fmt "$(median "${us[@]}")" 1) µs, $(median "${drop[@]}")" "" "" "" ""
    if [ "$rate" = 30000 ]; then
        if [ -n "$oha" ]; then
            p=$(median "${cpu[@]}") o=$(median "${oha_cpu[@]}") r=$(ratio "$p" "$o")
            row "2 open 30000/s: CPU-s, ptl vs oha -q 30000" "$(fmt "$p" 2)" "oha $(fmt "$o" 2)" "$r" "≤ 0.8" "$(verdict "$r" "<=" 0.8)"
            p=$(median "${us[@]}") o=$(median "${oha_us[@]}") r=$(ratio "$p" "$o")
            row "2 open 30000/s: CPU-µs per request, ptl vs oha" "$(fmt "$p" 1)" "oha $(fmt "$o" 1)" "$r" "≤ 0.8" "$(verdict "$r" "<=" 0.8)"
        else
            row "2 open 30000/s: CPU-s, ptl vs oha -q 30000" "$(fmt "$(median "${cpu[@]}")" 2)" "oha n/a" "n/a" "≤ 0.8" "n/a"
        fi
    fi
done
fi

# ---------------------------------------------------------------- 4. memory

if want 4; then
for conns in 1000 10000; do
    log "memory: ptl users $conns for 10s"
    name="mem-ptl-$conns"
    ptl_run "$name" closed.ptl --set "target=\"http://127.0.0.1:$nginx_port\"" \
        --set "users=$conns" --set duration=10s
    p=$(rss_mib "$work/$name")
    errs=$(jqf "$name" '.total.errors')
    log "memory: wrk -t1 -c$conns -d10s"
    gen "$work/mem-wrk-$conns" wrk -t1 -c"$conns" -d10s "$url" >"$work/mem-wrk-$conns.txt" 2>&1 || true
    w=$(rss_mib "$work/mem-wrk-$conns")
    limit=$([ "$conns" = 1000 ] && echo 32 || echo 200)
    row "4 peak RSS MiB at $conns connections" "$p" "wrk $w" "$(ratio "$p" "$w")" "≤ $limit" "$(verdict "$p" "<=" "$limit")"
    row "4 $conns connections: ptl requests/s, errors" \
        "$(fmt "$(jqf "$name" '.phases[0].achieved_rps')"), $errs" \
        "wrk $(fmt "$(awk '/^Requests\/sec/ {print $2}' "$work/mem-wrk-$conns.txt")")" "" "" ""
done
log "memory: ptl users 1000 for ${mem_long}s"
ptl_run "mem-ptl-long" closed.ptl --set "target=\"http://127.0.0.1:$nginx_port\"" \
    --set users=1000 --set "duration=${mem_long}s"
short=$(rss_mib "$work/mem-ptl-1000") long=$(rss_mib "$work/mem-ptl-long") r=$(ratio "$long" "$short")
row "4 peak RSS MiB, 1000 connections, 10 s vs ${mem_long} s" "$short → $long" "" "$r" "≈ 1.0 (≤ 1.05)" "$(verdict "$r" "<=" 1.05)"
fi
[ -z "$nginx_pid" ] || stop_pid "$nginx_pid"

# ---------------------------------------------------------------- 3. the 1 s stall

if want 3; then
start_demo_target
demo_set="target=\"http://127.0.0.1:$demo_port\""
stall_run() { # name with_stall(0|1): ptl at 1,000/s for 10 s, the target frozen for 1 s at 4.5 s
    local name=$1 stall=$2
    if [ "$stall" = 1 ]; then
        ( ptl_run "$name" open.ptl --set "$demo_set" --set "rate=${stall_rate}/s" \
            --set "duration=${stall_d}s" --set connections=50 ) &
        local gen_pid=$!
        python3 "$benches/stall.py" "$demo_pid" "$stall_at" "$stall_len" >"$work/$name.stall"
        wait "$gen_pid"
    else
        ptl_run "$name" open.ptl --set "$demo_set" --set "rate=${stall_rate}/s" \
            --set "duration=${stall_d}s" --set connections=50
    fi
}
s_p99=() s_truth=() s_svc=() b_svc=() s_err=()
for i in $(seq "$runs"); do
    log "stall $i/$runs: ptl rate ${stall_rate}/s for ${stall_d}s, no stall"
    stall_run "stall-base-$i" 0
    log "stall $i/$runs: the same, target stopped ${stall_len}s at ${stall_at}s"
    stall_run "stall-$i" 1
    n=$(jqf "stall-$i" '.phases[0].request_count')
    stalled=$(awk '{print $1}' "$work/stall-$i.stall")
    base=$(jqf "stall-base-$i" '.phases[0].service_time_ms.p50')
    # Arrivals come every 1/R s; the one arriving t after the freeze waits S - t. p99 is the
    # value with N - ceil(0.99 N) samples above it: the arrival at t = that count / R.
    s_truth+=("$(awk -v s="$stalled" -v n="$n" -v r="$stall_rate" -v b="$base" \
        'BEGIN {k = n - int(0.99 * n + 0.999999); printf "%.3f", s * 1000 - k * 1000 / r + b}')")
    s_p99+=("$(jqf "stall-$i" '.phases[0].response_time_ms.p99')")
    s_svc+=("$(jqf "stall-$i" '.phases[0].service_time_ms.p99')")
    b_svc+=("$(jqf "stall-base-$i" '.phases[0].service_time_ms.p99')")
    s_err+=("$(jqf "stall-$i" '.phases[0].errors + .phases[0].dropped')")
done
p=$(median "${s_p99[@]}") t=$(median "${s_truth[@]}") r=$(ratio "$p" "$t")
row "3 stall: response p99 ms vs truth" "$(fmt "$p" 1)" "truth $(fmt "$t" 1)" "$r" "0.99–1.01" \
    "$(awk -v a="$r" 'BEGIN {print (a == "n/a") ? "n/a" : (a >= 0.99 && a <= 1.01) ? "pass" : "FAIL"}')"
# "Unaffected": the service time must not show the stall itself (only the 50 requests on the
# wire when it began waited through it, 0.5 % of the samples), so its p99 stays far below the
# stall. It still rises above a run without the stall: the ~950 arrivals queued meanwhile all go
# at once when it ends, and the target answers that burst at its full rate (oha without latency
# correction, which measures from the actual send, shows the same).
s=$(median "${s_svc[@]}") b=$(median "${b_svc[@]}")
row "3 stall: service p99 ms, with vs without stall" "$(fmt "$s" 3)" "no stall $(fmt "$b" 3)" "$(ratio "$s" "$b")" "≪ stall (< 50 ms)" \
    "$(verdict "$s" "<=" 50)"
row "3 stall: ptl errors+dropped; stalls measured (s)" "$(median "${s_err[@]}")" "" "" "" \
    "$(awk '{printf "%s%.5f±%.5f", (NR > 1 ? ", " : ""), $1, $2}' "$work"/stall-*.stall)"
if [ -n "$oha" ]; then
    for mode in corrected plain; do
        flag=$([ "$mode" = corrected ] && echo --latency-correction || true)
        log "stall: oha -q 1000 -c 50 -z 10s $flag, the same stall"
        ( gen "$work/stall-oha-$mode" "$oha" -z "${stall_d}s" -q "$stall_rate" -c 50 $flag --no-tui \
            --output-format json "http://127.0.0.1:$demo_port/" >"$work/stall-oha-$mode.json" 2>"$work/stall-oha-$mode.log" ) &
        gen_pid=$!
        stalled=$(python3 "$benches/stall.py" "$demo_pid" "$stall_at" "$stall_len" | awk '{print $1}')
        wait "$gen_pid"
        o=$(jq -r '.latencyPercentiles.p99 * 1000' "$work/stall-oha-$mode.json")
        if [ "$mode" = corrected ]; then
            n=$(jq -r '[.statusCodeDistribution[]] | add' "$work/stall-oha-$mode.json")
            t=$(awk -v s="$stalled" -v n="$n" -v r="$stall_rate" \
                'BEGIN {k = n - int(0.99 * n + 0.999999); printf "%.3f", s * 1000 - k * 1000 / r}')
            row "3 stall: oha --latency-correction p99 ms" "" "oha $(fmt "$o" 1) (truth $(fmt "$t" 1))" "$(ratio "$o" "$t")" "" ""
        else
            row "3 stall: oha uncorrected (from the send) p99 ms" "" "oha $(fmt "$o" 3)" "" "" ""
        fi
    done
fi
stop_pid "$demo_pid"
fi

# ---------------------------------------------------------------- 5. request building

if want 5; then
log "cargo bench -p ptl-engine --bench vm"
vm_exe=$(cd "$root" && cargo bench --quiet -p ptl-engine --bench vm --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "vm" and .executable != null) | .executable' | tail -1) || true
vm_line="n/a (the bench did not build)"
if [ -n "$vm_exe" ] && [ -x "$vm_exe" ]; then
    taskset -c 0 "$vm_exe" --bench >"$work/vm.txt" 2>&1 || true
    vm_line=$(grep -m1 'checkout: draw' "$work/vm.txt" | sed 's/^ *//; s/  */ /g') || vm_line="n/a (see vm.txt)"
fi
row "5 VM request building (best / median)" "$vm_line" "" "" "report" ""
fi

# ---------------------------------------------------------------- table

echo
echo "ptl $("$ptl" --version | awk '{print $2}'), binary built $(date -u -r "$bin" +%Y-%m-%dT%H:%MZ) (tree now at $(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD -- runtime cli bytecode || echo ', with uncommitted changes')); run $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') × $(nproc --all) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
echo "mode: $([ "$quick" = 1 ] && echo quick || echo full), $runs run(s) per figure (medians); load average (1, 5, 15 min) at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "peers: $(wrk --version 2>&1 | head -1 | awk '{print "wrk", $2}'), $([ -n "$oha" ] && "$oha" --version || echo 'oha n/a'), nginx $(nginx -v 2>&1 | cut -d/ -f2)"
echo
echo "| measure | ptl | peer | ratio | goal | verdict |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}" | sort -s -n -t'|' -k2,2
