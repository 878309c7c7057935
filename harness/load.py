"""Load for the benchmarks and the several-servers tests: client threads posting a drawing to
one or more servers in turn, every answer recorded."""

import threading
import time
from collections import Counter, namedtuple

import requests

from harness.strokes import encode, render, strokes_named

SEVEN_PNG = encode(render(strokes_named("7-crossed")))
PNG = {"Content-Type": "image/png"}
# When it was sent and answered (time.monotonic()), its status ("failed": no answer), and the
# model version that answered (with `versions`, else None).
Answer = namedtuple("Answer", "sent answered status version")


class Load:
    """`clients` threads posting a drawing to `url` (a list: in turn) as fast as they are
    answered, or one every `pace` seconds. `addresses`: client n claims addresses[n] in
    X-Forwarded-For (to servers that trust one hop). `versions`: read each answer's
    `model_version` (a JSON parse a request, on the client's side)."""

    def __init__(self, url, clients, path="/predict/", pace=0.0, addresses=None, versions=False):
        self.urls = [url] if isinstance(url, str) else url
        self.path, self.pace, self.addresses, self.versions = path, pace, addresses, versions
        self.answers = []
        self.errors = []  # What the requests that got no answer raised.
        self.lock, self.stopping = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def __enter__(self):
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)
        self.seconds = time.monotonic() - self.started

    def _client(self, number):
        session, turn = requests.Session(), number
        headers = {**PNG, **({"X-Forwarded-For": self.addresses[number]} if self.addresses else {})}
        while not self.stopping.is_set():
            sent = time.monotonic()
            url = self.urls[turn % len(self.urls)] + self.path
            turn += 1
            version = None
            try:
                response = session.post(url, data=SEVEN_PNG, headers=headers, timeout=30)
                status = response.status_code
                if self.versions and status == 200:
                    version = response.json().get("model_version")
            except (requests.RequestException, ValueError) as error:
                status, session = "failed", requests.Session()
                self.errors.append(repr(error)[:300])
            with self.lock:
                self.answers.append(Answer(sent, time.monotonic(), status, version))
            if self.pace:
                self.stopping.wait(max(0.0, self.pace - (time.monotonic() - sent)))

    def statuses(self, since=0.0):
        return Counter(answer.status for answer in self.answers if answer.answered >= since)
