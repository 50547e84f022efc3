#!/usr/bin/env bash
# Recovery from network faults with real processes on this machine (ZooKeeper from Debian's
# `zookeeper` package, a coordinator, three `ptl agent`s, the third behind a TCP proxy that can
# black-hole it, a counting HTTP target on loopback): kill -9 and SIGTERM of an agent, SIGSTOP
# for 5, 15 and 60 s, a 20 s partition, quorum lost for 10 and 60 s on a 3-node ensemble. Each
# fault starts 3 s into a 300/s run that outlasts it by 12 s; agents' sessions time out after
# 1.5 s (as in the tests). Prints one row per fault: exit status of `submit --wait`, the
# target's count against the result's, the busiest second against the plan, the seconds below
# 95 % of it and when the rate was back, and the result's accounting.
#
# Usage: benches/cluster_faults.sh          (about 6 minutes; a debug build: the figures are
#        about time and counts at 300/s, not speed)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test -p ptl --test it -- --ignored --nocapture --test-threads 1 fault_recovery_figures
