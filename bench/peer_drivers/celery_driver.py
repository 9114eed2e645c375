"""Submit no-op Celery tasks and wait for each result (Redis broker and backend).

Usage: python celery_driver.py APP_DIR THREADS DURATION RATE
"""

import sys

from loop import emit, run_loops


def main() -> None:
    app_dir, threads, duration, rate = sys.argv[1:5]
    sys.path.insert(0, app_dir)
    from bench_celery_app import noop

    # Warm-up: connections to the broker and backend are opened here.
    for _ in range(5):
        noop.delay().get(timeout=30)

    def call() -> bool:
        return noop.delay().get(timeout=30) == "ok"

    emit(run_loops(call, int(threads), float(duration), float(rate)))


if __name__ == "__main__":
    main()
