"""Run requests that arrive together as one batch.

Each request thread calls `submit(digits)` and blocks; one worker thread takes the first waiting
request, gathers more for at most `max_wait_seconds` (or only those already queued, when the wait
is 0) up to `max_batch_size` images, runs them through the network in one call and hands each
request its own rows. An error in a batch fails exactly the requests in that batch.
"""

import queue
import threading
import time

import numpy as np


class BatchFailed(RuntimeError):
    """The batch this request was in could not be run."""


class _Pending:
    __slots__ = ("digits", "done", "result", "error")

    def __init__(self, digits):
        self.digits = digits
        self.done = threading.Event()
        self.result = None
        self.error = None


class Batcher:
    def __init__(self, predict, max_batch_size=32, max_wait_seconds=0.0, on_batch=None):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_seconds = max_wait_seconds
        self._on_batch = on_batch
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._thread.start()

    def submit(self, digits, timeout=30.0):
        """Probabilities for `digits` (n, 28, 28), n <= max_batch_size, computed in a batch."""
        pending = _Pending(digits)
        self._queue.put(pending)
        if not pending.done.wait(timeout):
            raise BatchFailed(f"No answer from the network within {timeout:.0f} s.")
        if pending.error is not None:
            raise BatchFailed(f"The network failed on this batch: {pending.error}") from pending.error
        return pending.result

    def _gather(self):
        batch = [self._queue.get()]
        count = len(batch[0].digits)
        deadline = time.monotonic() + self.max_wait_seconds
        while count < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                pending = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if count + len(pending.digits) > self.max_batch_size:
                # Too big to join this batch: it starts the next one.
                self._queue.put(pending)
                break
            batch.append(pending)
            count += len(pending.digits)
        return batch

    def _run(self):
        while True:
            batch = self._gather()
            try:
                probabilities = self._predict(np.concatenate([pending.digits for pending in batch]))
                if self._on_batch:
                    self._on_batch(len(probabilities))
                start = 0
                for pending in batch:
                    pending.result = probabilities[start : start + len(pending.digits)]
                    start += len(pending.digits)
            except Exception as error:  # Handed to the waiting requests, which report it.
                for pending in batch:
                    pending.error = error
            for pending in batch:
                pending.done.set()
