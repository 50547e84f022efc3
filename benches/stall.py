#!/usr/bin/env python3
"""Stall a running target process for a given time at a given moment (benches/http.sh).

    stall.py PID AFTER_S STALL_S      prints "LENGTH_S UNCERTAINTY_S"

Waits AFTER_S seconds, then freezes the process with SIGSTOP and thaws it with SIGCONT
STALL_S later: the target answers nothing meanwhile (requests queue in the kernel's socket
buffers, new connections in the listen backlog), like a garbage-collection pause. Prints the
stall's length in seconds and its uncertainty: the clock is read on both sides of each signal,
so a preemption of this script between a signal and a clock reading widens the bounds instead
of silently lengthening the figure. The length printed is the middle of the bounds.
"""

import os
import signal
import sys
import time


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    pid, after, stall = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    time.sleep(after)
    before_stop = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    after_stop = time.monotonic()
    try:
        # Sleep most of it, then spin: time.sleep can overshoot by a scheduler tick.
        deadline = after_stop + stall
        while (left := deadline - time.monotonic()) > 0.002:
            time.sleep(left - 0.002)
        while time.monotonic() < deadline:
            pass
    finally:
        before_cont = time.monotonic()
        os.kill(pid, signal.SIGCONT)
        after_cont = time.monotonic()
    shortest = before_cont - after_stop
    longest = after_cont - before_stop
    print(f"{(shortest + longest) / 2:.6f} {(longest - shortest) / 2:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
