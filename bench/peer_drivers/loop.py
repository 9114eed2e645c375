"""Closed or paced call loops on threads, shared by the peer drivers."""

import json
import sys
import threading
import time


def run_loops(call, threads: int, duration: float, rate: float) -> dict:
    """Call `call()` from `threads` threads for `duration` seconds.

    With `rate` 0 each thread calls again as soon as a call returns; with a
    rate each thread starts calls at rate/threads per second, skipping none.
    `call` returns True when the job completed.
    """
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    end = time.perf_counter() + duration
    interval = threads / rate if rate > 0 else 0.0

    def worker(index: int) -> None:
        next_at = time.perf_counter() + interval * index / max(threads, 1)
        while True:
            now = time.perf_counter()
            if interval:
                if next_at >= end:
                    return
                if next_at > now:
                    time.sleep(next_at - now)
                next_at += interval
            elif now >= end:
                return
            started = time.perf_counter()
            try:
                ok = call()
                error = "" if ok else "job did not complete"
            except Exception as exc:  # every peer error counts, whatever its type
                ok, error = False, f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                elif len(failures) < 1000:
                    failures.append(error[:300])

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {
        "elapsed": time.perf_counter() - started,
        "latencies": latencies,
        "failed": len(failures),
        "failure_samples": failures[:5],
    }


def emit(result: dict) -> None:
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
