"""gunicorn settings, read automatically from this folder; every value can be overridden.

Workers come from WEB_CONCURRENCY (Heroku sets it by dyno size), threads from GUNICORN_THREADS.
The app is imported in each worker after the fork (no preload): a TensorFlow model built in
the master before forking hangs the workers.
"""

import os
import shutil
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
preload_app = False
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'

# Prometheus counts from all workers are merged through files in one folder, which must be
# empty when the server starts and known to the workers before they import prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="digitpad-metrics-")


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    # Imported here: prometheus_client picks its storage when first imported, and the workers
    # (forked from this process) must see the multiprocess folder set above.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
