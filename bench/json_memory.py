"""Memory a hostile JSON body costs the worker that refuses it.

    .venv/bin/python -m bench.json_memory

One gunicorn worker, as the Procfile starts it. For each body (45 MB of `[`, and 45 MB of
`[],` repeated) sent to /predict/batch: the worker's resident memory before, its peak while it
answered (VmHWM, reset through /proc/PID/clear_refs just before) and the status it answered.
"""

from pathlib import Path

import requests

from harness.servers import procfile_server, resident_megabytes, worker_pids

BODY_BYTES = 45_000_000
BODIES = {
    "45 MB of [": b"[" * BODY_BYTES,
    "45 MB of [], repeated": b"[]," * (BODY_BYTES // 3),
}


def peak_megabytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(url, worker, body):
    """(resident MB before, peak MB while answering, status)."""
    before = resident_megabytes(worker)
    Path(f"/proc/{worker}/clear_refs").write_text("5")  # Resets the peak to the resident size.
    response = requests.post(f"{url}/predict/batch", data=body, headers={"Content-Type": "application/json"}, timeout=120)
    return before, peak_megabytes(worker), response.status_code


def main():
    environment = {"WEB_CONCURRENCY": "1", "DIGITPAD_BATCH_RATE_LIMIT": ""}
    with procfile_server(environment) as (url, master):
        [worker] = worker_pids(master.pid)
        for name, body in BODIES.items():
            before, peak, status = measure(url, worker, body)
            print(f"{name}: {status}; worker {before:.0f} MB before, peak {peak:.0f} MB (+{peak - before:.0f} MB)")


if __name__ == "__main__":
    main()
