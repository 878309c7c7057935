"""gunicorn settings, read automatically from this folder; every value can be overridden.

Workers come from WEB_CONCURRENCY (Heroku sets it by dyno size). They are gevent workers: each
connection is a greenlet, so a client that sends its request slowly (a phone on a bad network,
or an attacker trickling a byte a second) holds a greenlet, never a thread, and everyone
else is still served (bench/bench_slow_clients.py measures it; the README has the figures).
A request's headers must arrive within `keepalive` seconds of the connection opening (or of the
previous answer on it); its body has the deadline of web/slow_clients.py.
The app is imported in each worker after the fork (no preload): a TensorFlow model built in
the master before forking hangs the workers.
"""

import os
import shutil
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "web.gunicorn_worker.GeventSocketsWorker")
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "4000"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # For GUNICORN_WORKER_CLASS=gthread.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Heroku sends SIGTERM, then SIGKILL 30 s later: requests in flight get 20 s to finish.
graceful_timeout = 20
keepalive = 5
preload_app = False
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# Client addresses are logged as their /24 (IPv4) or /48 (IPv6) network (web/access_log.py),
# unless DIGITPAD_ACCESS_LOG_ADDRESSES=full asks for whole ones.
if os.environ.get("DIGITPAD_ACCESS_LOG_ADDRESSES", "").strip().lower() != "full":
    logger_class = "web.access_log.TruncatedAddressLogger"

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
