#!/usr/bin/env bash
# HTTP/2 (`http 2`, h2c) at saturation against h2load, the HTTP/2 generator of nghttp2
# (Debian's nghttp2-client): the same nginx (one worker, `return 200`, cleartext HTTP/2 with
# prior knowledge) on core 1, the generator on core 0, `users U` multiplexed on `connections C`
# against `h2load -c C -m U/C`, alternating, medians of --runs pairs, ratios from the same run.
# Then open loop at 10,000 and 30,000/s on 2 connections against nginx closing each after 1,000
# streams (its default): the requests it turns away at each GOAWAY must cost no error.
#
# Usage: benches/http2.sh [--runs N] [--no-build] [--keep DIR]
set -euo pipefail

# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
runs=3 duration=5
bench_args "$@"
command -v h2load >/dev/null || { echo "missing: h2load (apt-get install nghttp2-client)" >&2; exit 2; }
need nginx h2load jq taskset python3 /usr/bin/time
bench_begin h2
use_ptl

start_nginx
url="http://127.0.0.1:$nginx_h2_port/"
log "nginx h2c on $url (core 1); generator on core 0; $runs pair(s) of ${duration} s"

# h2load's "finished in 5.00s, 123.45 req/s, …" and "requests: N total, N started, N done, N succeeded, …"
h2load_rps() { awk '/^finished in/ {gsub(",", "", $4); print $4}' "$1"; }
h2load_done() { awk '/^requests:/ {print $8}' "$1"; }
h2load_failed() { awk '/^requests:/ {print $10 + $12 + $14}' "$1"; }

for shape in "1 50" "10 100"; do
    read -r conns users <<<"$shape"
    streams=$((users / conns))
    p_rps=() h_rps=() p_eff=() h_eff=() p_err=() h_err=()
    for i in $(seq "$runs"); do
        name="ptl-$conns-$i"
        ptl_run "$name" h2.ptl --set "target=\"http://127.0.0.1:$nginx_h2_port\"" \
            --set "users=$users" --set "connections=$conns" --set "duration=${duration}s"
        p_rps+=("$(jqf "$name" '.total.requests / .phases[0].duration_s')")
        p_eff+=("$(ratio "$(jqf "$name" '.total.requests')" "$(cpu_s "$work/$name")")")
        p_err+=("$(jqf "$name" '.total.errors')")
        name="h2load-$conns-$i"
        gen "$work/$name" h2load -c "$conns" -m "$streams" -D "$duration" "$url" >"$work/$name.out" 2>&1
        h_rps+=("$(h2load_rps "$work/$name.out")")
        h_eff+=("$(ratio "$(h2load_done "$work/$name.out")" "$(cpu_s "$work/$name")")")
        h_err+=("$(h2load_failed "$work/$name.out")")
        log "c=$conns m=$streams run $i: ptl $(fmt "${p_rps[-1]}") req/s, h2load $(fmt "${h_rps[-1]}") req/s"
    done
    p=$(median "${p_rps[@]}") h=$(median "${h_rps[@]}") r=$(ratio "$p" "$h")
    row "h2c users $users on $conns connection(s): requests/s" "$(fmt "$p")" "h2load -c $conns -m $streams $(fmt "$h")" "$r" "report" ""
    p=$(median "${p_eff[@]}") h=$(median "${h_eff[@]}") r=$(ratio "$p" "$h")
    row "… requests per generator CPU-second" "$(fmt "$p")" "h2load $(fmt "$h")" "$r" "report" ""
    row "… errors" "$(median "${p_err[@]}")" "h2load $(median "${h_err[@]}")" "" "0" ""
done

turnover="http://127.0.0.1:$nginx_h2_turnover_port"
for rate in 10000 30000; do
    achieved=() errors=() dropped=()
    for i in $(seq "$runs"); do
        name="ptl-turnover-$rate-$i"
        ptl_run "$name" h2_open.ptl --set "target=\"$turnover\"" --set "rate=$rate/s" \
            --set "duration=${duration}s"
        achieved+=("$(jqf "$name" '.phases[0].request_count / .phases[0].planned')")
        errors+=("$(jqf "$name" '.total.errors')")
        dropped+=("$(jqf "$name" '.phases[0].dropped')")
        log "turnover $rate/s run $i: errors ${errors[-1]}, dropped ${dropped[-1]}"
    done
    most_errors=$(printf '%s\n' "${errors[@]}" | sort -g | tail -1)
    row "h2c $rate/s, GOAWAY every 1,000 streams: sent / planned" "$(median "${achieved[@]}")" "" "" "report" ""
    row "… errors (most of $runs runs)" "$most_errors" "" "" "0" "$(verdict "$most_errors" "<=" 0)"
    # Arrivals beyond max_inflight while both connections reconnect at once (they reach
    # 1,000 streams together) are dropped, and counted.
    row "… dropped (most of $runs runs)" "$(printf '%s\n' "${dropped[@]}" | sort -g | tail -1)" "" "" "report" ""
done

print_rows "; $(h2load --version 2>&1 | head -1)"
