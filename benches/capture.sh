#!/usr/bin/env bash
# What a captured JSON field costs at saturation (issue 7, "goal ≥ 0.8×"): `users 50` back to
# back on nginx's /json answer, the plain request (plans/json_plain.ptl) against the same
# request as a one-step scenario capturing `$.token` (plans/json_capture.ptl). Generator on
# core 0, nginx on core 1; the two plans alternate, medians of --runs pairs, ratios from the
# same run.
#
# Usage: benches/capture.sh [--runs N] [--no-build] [--keep DIR]
set -euo pipefail

# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"
runs=5 duration=5s
bench_args "$@"
need nginx jq taskset python3 /usr/bin/time
bench_begin capture
use_ptl

start_nginx
target="http://127.0.0.1:$nginx_port"
log "nginx on $target/json (core 1); generator on core 0; $runs pair(s) of ${duration}"

plain_rps=() capture_rps=() plain_eff=() capture_eff=() capture_errors=()
for i in $(seq "$runs"); do
    for kind in plain capture; do
        name="$kind-$i"
        ptl_run "$name" "json_$kind.ptl" --set "target=\"$target\"" --set "duration=$duration"
        rps=$(jqf "$name" '.total.requests / .phases[0].duration_s')
        eff=$(ratio "$(jqf "$name" '.total.requests')" "$(cpu_s "$work/$name")")
        if [ "$kind" = plain ]; then
            plain_rps+=("$rps") plain_eff+=("$eff")
        else
            capture_rps+=("$rps") capture_eff+=("$eff")
            capture_errors+=("$(jqf "$name" '.total.errors')")
        fi
        log "$name: $(fmt "$rps") req/s, $(fmt "$eff") req/CPU-s"
    done
done

p=$(median "${plain_rps[@]}") c=$(median "${capture_rps[@]}") r=$(ratio "$c" "$p")
row "one-step scenario with json capture vs plain request: requests/s" "$(fmt "$c")" "plain $(fmt "$p")" "$r" "≥ 0.8" "$(verdict "$r" ">=" 0.8)"
p=$(median "${plain_eff[@]}") c=$(median "${capture_eff[@]}") r=$(ratio "$c" "$p")
row "… requests per generator CPU-second" "$(fmt "$c")" "plain $(fmt "$p")" "$r" "≥ 0.8" "$(verdict "$r" ">=" 0.8)"
row "… capture errors (must be 0)" "$(median "${capture_errors[@]}")" "" "" "0" ""

print_rows ""
