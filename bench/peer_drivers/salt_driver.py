"""Run test.ping jobs on Salt minions through the master and wait for returns.

Usage: python salt_driver.py MASTER_CONFIG THREADS DURATION RATE MINION...
"""

import itertools
import sys
import threading

from loop import emit, run_loops


def main() -> None:
    config, threads, duration, rate = sys.argv[1:5]
    minions = sys.argv[5:]
    import salt.client

    local = threading.local()
    targets = itertools.cycle(minions)
    target_lock = threading.Lock()

    def client():
        if not hasattr(local, "client"):
            local.client = salt.client.LocalClient(c_path=config)
        return local.client

    def call() -> bool:
        with target_lock:
            target = next(targets)
        returned = client().cmd(target, "test.ping", timeout=30)
        return returned.get(target) is True

    for minion in minions:
        client().cmd(minion, "test.ping", timeout=30)
    emit(run_loops(call, int(threads), float(duration), float(rate)))


if __name__ == "__main__":
    main()
