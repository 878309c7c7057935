"""The Procfile's gunicorn worker: gevent for the sockets, Python's threads left as threads.

gevent makes every connection a greenlet, so a client that sends its request slowly parks a greenlet
instead of holding a thread (web/slow_clients.py, bench/bench_slow_clients.py).
gunicorn's own gevent worker also turns threads into greenlets, and that breaks the batch
processes: concurrent.futures feeds their pipes from a thread with a blocking os.write, and as a
greenlet that write stalls the whole worker while the processes wait for it to read their
answers (measured: a 400-image /predict/batch never answered). With real threads the pool works
as under the threaded worker, and the model loads in a thread of its own while /healthz answers.

`select` is left alone too. A greenlet must never wait, with a real lock held, for I/O that
lets other greenlets run: SQLAlchemy holds one while a worker's first database connection is
made, and its pool waits on one when every connection is out. psycopg would wait for the
database cooperatively if `select` were patched (it checks); left alone, it waits in C, as a
threaded worker's thread does, and the worker answers others when that statement is done.
"""

import gevent
from gevent import monkey, socket
from gunicorn.workers.ggevent import GeventWorker


class GeventSocketsWorker(GeventWorker):
    def patch(self):
        monkey.patch_all(thread=False, select=False)
        # As GeventWorker.patch does after patching: the listening sockets, made by the master
        # before the fork, become gevent sockets.
        self.sockets = [
            socket.socket(listener.FAMILY, socket.SOCK_STREAM, fileno=listener.sock.detach())
            for listener in self.sockets
        ]

    def handle_request(self, listener_name, request, client, address):
        answer = HeadersWithBody(client)
        try:
            super().handle_request(listener_name, request, answer, address)
        finally:
            answer.flush()
        # A turn for the other connections after every answer. Without it a client that sends
        # its next request at once finds its greenlet still reading and is served again and
        # again: measured with 16 keep-alive clients, two connections got 2,170 and 2,413
        # answers in 6 s and the rest 117-433 (p99 128 ms); with it, 408-611 each (p99 19 ms).
        gevent.sleep(0)


class HeadersWithBody:
    """The client's socket, but an answer's headers leave with the first bytes of its body, in
    one send. gunicorn sends them apart; a server killed between the two leaves a load
    balancer holding headers it has passed on and no body, which it can no longer send to
    another server (tests/server/test_scale_out.py: one answer in a few thousand)."""

    def __init__(self, sock):
        self._sock, self._held = sock, b""

    def sendall(self, data):
        data = bytes(data)
        if not self._held and data.startswith(b"HTTP/") and data.endswith(b"\r\n\r\n"):
            self._held = data  # The headers: kept for the body.
            return None
        data, self._held = self._held + data, b""
        return self._sock.sendall(data)

    def send(self, data):
        self.flush()
        return self._sock.send(data)

    def sendfile(self, *arguments, **options):
        self.flush()
        return self._sock.sendfile(*arguments, **options)

    def flush(self):
        """Headers of an answer with no body (HEAD, 304) leave on their own."""
        if self._held:
            held, self._held = self._held, b""
            self._sock.sendall(held)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def gevent_serving():
    """Whether this process is a gevent worker: its sockets are gevent's."""
    return monkey.is_module_patched("socket")


def off_the_event_loop(function, *args):
    """function(*args), waited for without stopping the worker's other requests.

    Under the gevent worker a call that blocks on a real thread or process (the batch
    processes' answers) would hold every connection of the worker still; it runs in a thread
    of gevent's pool while this greenlet waits. Anywhere else it simply runs here.
    """
    if gevent_serving():
        return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)
