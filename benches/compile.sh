#!/usr/bin/env bash
# End-to-end timing of `ptl check` and `ptl compile` on large generated plans (the language
# goal: well under 100 ms for 5,000 requests). The plans come from the compiler bench's
# generator (compiler/benches/compile/generate.rs, via PTL_BENCH_EMIT), so these figures and
# `cargo bench -p ptl-compiler --bench compile` measure the same text.
#
# Usage: benches/compile.sh            (sizes 5000 and 50000)
#        SIZES=5000 RUNS=30 benches/compile.sh
#        NO_HYPERFINE=1 benches/compile.sh   (the date loop even when hyperfine is installed)
# Uses hyperfine when installed, else a `date +%s%N` loop. Prints median and min wall time in
# ms and, with hyperfine, the mean CPU time (user + system): on a shared machine the wall
# figures include waiting for a core, the CPU figure does not.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sizes=${SIZES:-5000,50000}
runs=${RUNS:-20}
target_dir=${CARGO_TARGET_DIR:-$root/target}
ptl="$target_dir/release/ptl"

work=$(mktemp -d "${TMPDIR:-/tmp}/ptl-compile-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building release binary and generating plans ($sizes requests) in $work" >&2
cargo build --release --quiet -p ptl
PTL_BENCH_EMIT="$work" PTL_BENCH_SIZES="$sizes" \
    cargo bench --quiet -p ptl-compiler --bench compile >/dev/null

# Prints "median min cpu" in ms for a command run $2 times (after one warm-up run); no CPU time.
time_loop() {
    local cmd=$1 n=$2 i start end
    eval "$cmd" >/dev/null 2>&1
    for ((i = 0; i < n; i++)); do
        start=$(date +%s%N)
        eval "$cmd" >/dev/null 2>&1
        end=$(date +%s%N)
        echo $(((end - start) / 1000))
    done | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f %.1f -\n", t[int((NR + 1) / 2)] / 1000, t[1] / 1000 }'
}

# Prints "median min cpu" in ms from hyperfine's JSON export.
time_hyperfine() {
    local cmd=$1 n=$2 json="$work/hyperfine.json"
    hyperfine -N --style none --warmup 1 --runs "$n" --export-json "$json" "$cmd" >/dev/null
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f %.1f %.1f" % (r["median"]*1e3, r["min"]*1e3, (r["user"]+r["system"])*1e3))' "$json"
}

if [[ -z ${NO_HYPERFINE:-} ]] && command -v hyperfine >/dev/null; then timer=time_hyperfine; tool=hyperfine; else timer=time_loop; tool="date loop"; fi

base=${sizes%%,*}
printf '\n%-46s %6s %10s %10s %10s   (%s, %s cores)\n' "command" "runs" "median ms" "min ms" "cpu ms" "$tool" "$(nproc)"
bench() {
    local label=$1 cmd=$2 n=$3 median min cpu
    read -r median min cpu < <($timer "$cmd" "$n")
    printf '%-46s %6d %10s %10s %10s\n' "$label" "$n" "$median" "$min" "$cpu"
}
bench "ptl check examples/checkout.ptl (startup)" "$ptl check examples/checkout.ptl" "$runs"
for size in ${sizes//,/ }; do
    plan="$work/plan-$size.ptl"
    # A plan with errors would time the error path: refuse it.
    "$ptl" check "$plan" >/dev/null 2>&1 || { echo "ptl check failed on $plan" >&2; exit 1; }
    n=$((runs * base / size)); ((n >= 3)) || n=3
    bytes=$(wc -c <"$plan")
    bench "ptl check   ($size requests, $bytes B)" "$ptl check $plan" "$n"
    bench "ptl compile ($size requests)" "$ptl compile $plan -o $work/plan-$size.ptlc" "$n"
    echo "  bytecode: $(wc -c <"$work/plan-$size.ptlc") bytes"
done
