"""nginx in front of several app servers, with the committed deploy/nginx.conf: its upstream's
servers replaced by the ones given, listening on 127.0.0.1 only, everything it writes in a
temporary folder."""

import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from harness.servers import ROOT, free_port

CONFIG = ROOT / "deploy" / "nginx.conf"
UPSTREAM_SERVER = re.compile(r"^(\s*)server web\d+:8000 (.*);$", re.MULTILINE)


def local_config(upstream_ports, port, folder):
    """deploy/nginx.conf for 127.0.0.1: the same upstream options for each port given."""
    text = CONFIG.read_text()
    servers = UPSTREAM_SERVER.findall(text)
    if not servers:
        raise ValueError(f"{CONFIG} has no `server webN:8000 ...;` lines in its upstream")
    indent, options = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{upstream} {options};\n" for upstream in upstream_ports)
    text = UPSTREAM_SERVER.sub("", text, count=len(servers) - 1)
    text = UPSTREAM_SERVER.sub(lines.rstrip("\n"), text, count=1)
    text = text.replace("listen [::]:8080;\n", "").replace("listen 8080;", f"listen 127.0.0.1:{port};")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {folder}/nginx.pid;")
    text = text.replace("access_log /dev/stdout;", f"access_log {folder}/access.log;")
    temporary = "".join(
        f"    {kind}_temp_path {folder}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return text.replace("http {\n", "http {\n" + temporary, 1)


@contextmanager
def nginx_server(upstream_ports, timeout=10):
    """Yield nginx's URL once it answers; stopped afterwards. RuntimeError where nginx is not
    installed."""
    program = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if program is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    folder = tempfile.mkdtemp(prefix="digitpad-nginx-")
    Path(folder).chmod(0o755)  # Its workers run as another user when started as root.
    port = free_port()
    config = f"{folder}/nginx.conf"
    with open(config, "w") as file:
        file.write(local_config(upstream_ports, port, folder))
    with open(f"{folder}/stderr.log", "w") as errors:
        process = subprocess.Popen(
            [program, "-p", folder, "-c", config, "-e", f"{folder}/error.log", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {Path(folder, 'stderr.log').read_text()[-2000:]}")
            try:
                requests.get(f"{url}/healthz", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)  # Graceful: workers finish what they are answering.
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
