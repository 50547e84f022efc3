#!/usr/bin/env bash
# HTTPS at saturation (issue 3: "HTTPS via rustls"): `users 50` over TLS (rustls, HTTP/1.1,
# keep-alive) against `wrk -t1 -c50` over TLS (OpenSSL), both on the same nginx (one worker on
# core 1, `return 200`, a self-signed leaf certificate made by benches/lib.sh), the generator
# on core 0; plain HTTP from both for reference. Alternating, medians of --runs, ratios from
# the same run.
#
# Usage: benches/https.sh [--runs N] [--no-build] [--keep DIR]
set -euo pipefail

# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
runs=3 duration=5
bench_args "$@"
need nginx wrk openssl jq taskset python3 /usr/bin/time
bench_begin https
use_ptl

start_nginx
wait_port "$nginx_tls_port"
log "nginx on http :$nginx_port and https :$nginx_tls_port (core 1); generator on core 0; $runs run(s) of ${duration} s"

# wrk's "Requests/sec: 123.45" and "N requests in …"
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_done() { awk '/requests in/ {print $1}' "$1"; }

for scheme in https http; do
    port=$([ "$scheme" = https ] && echo "$nginx_tls_port" || echo "$nginx_port")
    p_rps=() w_rps=() p_eff=() w_eff=() p_err=()
    for i in $(seq "$runs"); do
        name="ptl-$scheme-$i"
        ptl_run "$name" closed.ptl --set "target=\"$scheme://127.0.0.1:$port\"" \
            --set users=50 --set "duration=${duration}s" --ca-cert "$work/nginx/cert.pem"
        p_rps+=("$(jqf "$name" '.total.requests / .phases[0].duration_s')")
        p_eff+=("$(ratio "$(jqf "$name" '.total.requests')" "$(cpu_s "$work/$name")")")
        p_err+=("$(jqf "$name" '.total.errors')")
        name="wrk-$scheme-$i"
        gen "$work/$name" wrk -t1 -c50 -d"${duration}s" "$scheme://127.0.0.1:$port/" >"$work/$name.out" 2>&1
        w_rps+=("$(wrk_rps "$work/$name.out")")
        w_eff+=("$(ratio "$(wrk_done "$work/$name.out")" "$(cpu_s "$work/$name")")")
        log "$scheme run $i: ptl $(fmt "${p_rps[-1]}") req/s, wrk $(fmt "${w_rps[-1]}") req/s"
    done
    p=$(median "${p_rps[@]}") w=$(median "${w_rps[@]}") r=$(ratio "$p" "$w")
    row "$scheme users 50: requests/s" "$(fmt "$p")" "wrk -c50 $(fmt "$w")" "$r" "report" ""
    p=$(median "${p_eff[@]}") w=$(median "${w_eff[@]}") r=$(ratio "$p" "$w")
    row "… requests per generator CPU-second" "$(fmt "$p")" "wrk $(fmt "$w")" "$r" "report" ""
    row "… ptl errors" "$(median "${p_err[@]}")" "" "" "0" ""
done

print_rows ""
