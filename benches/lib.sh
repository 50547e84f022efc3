# Shared by the benchmark scripts (sourced, not run): their common options, the work directory,
# the ptl binary, generators pinned to core 0 under /usr/bin/time, the nginx target on core 1,
# medians and ratios, the result table. It sets `benches` (its own folder) and `root` (the
# repository) for the caller.

benches=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$benches")

pids=() keep="" build=1

# The leading comment block of the calling script, as its --help.
usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }

# The options every short benchmark takes: --runs N, --no-build, --keep DIR, --help.
bench_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --runs) runs=$2; shift ;;
            --no-build) build=0 ;;
            --keep) keep=$2; shift ;;
            -h|--help) usage; exit 0 ;;
            *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
    done
}

need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
    done
}

# A temp dir `work` for this run, removed (after --keep copied it) when the script exits.
bench_begin() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/ptl-$1-bench.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# `ptl`: a private copy of the release binary (built first unless --no-build), so other builds
# may replace it during the run. CARGO_TARGET_DIR is honoured, so a benchmark build can live
# apart from everyday builds.
use_ptl() {
    bin="${CARGO_TARGET_DIR:-$root/target}/release/ptl"
    if [ "$build" = 1 ]; then
        log "cargo build --release -p ptl"
        (cd "$root" && cargo build --release --quiet -p ptl)
    fi
    cp "$bin" "$work/ptl"
    ptl="$work/ptl"
}

# The result table, with the run's context above it.
print_rows() {
    echo "ptl $("$ptl" --version | awk '{print $2}'), tree $(cd "$root" && git rev-parse --short HEAD)$1; run $(date -u +%Y-%m-%dT%H:%MZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "| measure | ptl | peer | ratio | goal | verdict |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
}
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -CONT "$p" 2>/dev/null || true
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$keep" ]; then
        mkdir -p "$keep" && cp -r "$work"/. "$keep"/ && echo "raw outputs in $keep" >&2
    fi
    rm -rf "$work"
}

log() { echo "== $*" >&2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $port" >&2
    return 1
}

# Runs a generator on core 0 under /usr/bin/time; "$1.time" gets "user sys maxrss_kib wall".
gen() {
    local out=$1
    shift
    taskset -c 0 /usr/bin/time -f '%U %S %M %e' -o "$out.time" "$@"
}
cpu_s() { awk '{printf "%.3f", $1 + $2}' "$1.time"; }
rss_mib() { awk '{printf "%.1f", $3 / 1024}' "$1.time"; }

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# a / b, or n/a
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.3f", a / b}'; }
fmt() { awk -v v="$1" -v p="${2:-0}" 'BEGIN {if (v == "n/a" || v == "") print "n/a"; else printf "%.*f", p, v}'; }
# pass / FAIL / n/a for "value OP limit"
verdict() {
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? v >= l : (op == "<=") ? v <= l : 0
        print ok ? "pass" : "FAIL" }'
}

ptl_run() { # name plan --set… : runs ptl on core 0, JSON in $work/name.json
    local name=$1 plan=$2
    shift 2
    gen "$work/$name" "$ptl" run "$benches/plans/$plan" --quiet --out "$work/$name.json" "$@" \
        >"$work/$name.log" 2>&1 || {
        local rc=$?
        # 1 is "a threshold failed": these plans have none, but the results are written.
        [ "$rc" = 1 ] || { echo "ptl run failed ($rc), see $work/$name.log:" >&2; tail -5 "$work/$name.log" >&2; return 1; }
    }
}
jqf() { jq -r "$2" "$work/$1.json"; }

nginx_port="" nginx_pid=""
start_nginx() {
    local dir="$work/nginx"
    mkdir -p "$dir"
    nginx_port=$(free_port) nginx_h2_port=$(free_port) nginx_tls_port=$(free_port)
    nginx_h2_turnover_port=$(free_port)
    # A leaf certificate for 127.0.0.1 (rustls refuses a CA certificate as a server's own).
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$nginx_port#g" -e "s#@H2PORT@#$nginx_h2_port#g" \
        -e "s#@TLSPORT@#$nginx_tls_port#g" -e "s#@H2TURNPORT@#$nginx_h2_turnover_port#g" \
        "$benches/nginx.conf.in" >"$dir/nginx.conf"
    taskset -c 1 nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
    nginx_pid=$!
    pids+=("$nginx_pid")
    wait_port "$nginx_port"
}

stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$@")"); }
