"""Slow clients: a request body must keep arriving, or the request ends with 408.

The Procfile's gunicorn runs gevent workers, so a connection waiting for bytes is a parked
greenlet, not a thread: hundreds of slow connections cannot starve the others. gunicorn cuts
off a request whose headers take longer than its keepalive setting (5 s, gunicorn.conf.py);
the body is read by the application, and this middleware gives it a deadline the way Apache's
mod_reqtimeout does (body=10,MinRate=...): BODY_TIMEOUT_SECONDS to start with, one second more
for every BODY_MIN_RATE bytes received. A person on a slow phone network keeps extending it; a
connection that trickles a byte a second is answered 408 and closed after about 10 s.

The deadline interrupts a blocked read only under gevent (gevent.Timeout); under the
development server or Flask's test client the body is read without one.
"""

import socket
import time

import gevent
from werkzeug.exceptions import RequestTimeout

from web.gunicorn_worker import gevent_serving


class BodyDeadline:
    """WSGI middleware: `wsgi.input` reads raise 408 once the body's deadline has passed."""

    def __init__(self, app, timeout_seconds, min_rate):
        self.app = app
        self.timeout_seconds = timeout_seconds
        self.min_rate = min_rate

    def __call__(self, environ, start_response):
        if self.timeout_seconds and gevent_serving():
            environ["wsgi.input"] = DeadlineInput(
                environ["wsgi.input"], self.timeout_seconds, self.min_rate, environ.get("gunicorn.socket")
            )
        return self.app(environ, start_response)


class DeadlineInput:
    """A request body stream whose reads end at the deadline."""

    def __init__(self, stream, timeout_seconds, min_rate, client_socket):
        self._stream = stream
        self._started = time.monotonic()
        self._timeout_seconds = timeout_seconds
        self._min_rate = min_rate
        self._received = 0
        self._client_socket = client_socket

    def read(self, size=-1):
        return self._counted(self._stream.read, size)

    def readline(self, size=-1):
        return self._counted(self._stream.readline, size)

    def readlines(self, hint=-1):
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    def _deadline(self):
        allowance = self._received / self._min_rate if self._min_rate else 0.0
        return self._started + self._timeout_seconds + allowance

    def _counted(self, read, size):
        remaining = self._deadline() - time.monotonic()
        if remaining <= 0:
            self._give_up()
        timeout = gevent.Timeout(remaining)
        timeout.start()
        try:
            data = read(size)
        except gevent.Timeout as expired:
            if expired is not timeout:
                raise
            self._give_up()
        finally:
            timeout.close()
        self._received += len(data)
        return data

    def _give_up(self):
        # The rest of the body will never be read: end the connection's reading side, so that
        # gunicorn closes it after the 408 rather than waiting to drain the body.
        if self._client_socket is not None:
            try:
                self._client_socket.shutdown(socket.SHUT_RD)
            except OSError:  # Already gone.
                pass
        raise RequestTimeout(
            f"The request body did not arrive in time: {self._received:,} bytes came in "
            f"{time.monotonic() - self._started:.0f} s. Send the whole request at once."
        )
