"""A throwaway Redis for the tests and benchmarks: 127.0.0.1 only, nothing written to disk,
its own temporary folder; it can be killed and started again on the same port."""

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager

from harness.servers import free_port


class RedisServer:
    def __init__(self, program, folder):
        self.program, self.folder = program, folder
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=10):
        self.process = subprocess.Popen(
            [self.program, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.folder, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self):
        """SIGKILL: gone at once, counts and all (nothing is saved)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *words):
        """One command's reply, as text (redis-cli's)."""
        return subprocess.run(
            [shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), *words],
            check=False, capture_output=True, text=True, timeout=10,
        ).stdout.strip()


@contextmanager
def redis_server():
    """Yield a started RedisServer; RuntimeError where redis-server is not installed."""
    program = shutil.which("redis-server")
    if program is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    folder = tempfile.mkdtemp(prefix="digitpad-redis-")
    server = RedisServer(program, folder)
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(folder, ignore_errors=True)
