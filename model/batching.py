"""Run requests that arrive together as one batch.

Each request thread calls `submit(digits)`, or, to be waited for, announces itself first while
it decodes and preprocesses its image (`with batcher.announced() as submit:`). A request that
finds the network idle, nobody queued and nobody announced runs its own batch of one in its own
thread: handing it to another thread and back would cost a good part of a millisecond. Requests
that arrive while a batch is running queue up, and one batching thread runs them together as
soon as the network is free, up to `max_batch_size` images. Before it does, it waits up to
`max_wait_seconds` for announced requests still on their way, never for requests that may or
may not come, so a lone request is not held up. Each request gets its own rows; an error in a
batch fails exactly the requests in that batch.
"""

import collections
import contextlib
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
        self._queue = collections.deque()
        self._busy = False  # A batch is being gathered or run.
        self._on_their_way = 0  # Announced requests that have not submitted yet.
        self._closed = False
        # Only the batching thread waits on this: for queued work and for the network to be free.
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def announced(self):
        """Announce a request that will need the network soon; yields its `submit`."""
        submitted = False

        def submit(digits, timeout=30.0):
            nonlocal submitted
            first_time, submitted = not submitted, True
            return self._submit(digits, timeout, announced=first_time)

        with self._changed:
            self._on_their_way += 1
        try:
            yield submit
        finally:
            if not submitted:  # No ink, or an error: it will not come after all.
                with self._changed:
                    self._on_their_way -= 1
                    self._changed.notify()

    def submit(self, digits, timeout=30.0):
        """Probabilities for `digits` (n, 28, 28), n <= max_batch_size, computed in a batch.

        `timeout` bounds the wait for a queued request's batch; BatchFailed if it runs out.
        """
        return self._submit(digits, timeout, announced=False)

    def _submit(self, digits, timeout, announced):
        pending = _Pending(digits)
        with self._changed:
            if announced:
                self._on_their_way -= 1
            could_have_company = (
                self.max_wait_seconds > 0
                and self._on_their_way > 0
                and len(digits) < self.max_batch_size
            )
            run_here = not could_have_company and not self._busy and not self._queue
            if run_here:
                self._busy = True
            else:
                self._queue.append(pending)
                self._changed.notify()
        if run_here:
            self._run_batch([pending])
        elif not pending.done.wait(timeout):
            with self._changed:
                if pending in self._queue:
                    self._queue.remove(pending)
            raise BatchFailed(f"No answer from the network within {timeout:.0f} s.")
        if pending.error is not None:
            raise BatchFailed(f"The network failed on this batch: {pending.error}") from pending.error
        return pending.result

    def _gather(self):
        """Take the next batch off the queue once the network is free (called holding the lock)."""
        while self._busy or not self._queue:
            if self._closed and not self._busy and not self._queue:
                return None
            self._changed.wait()
        self._busy = True
        batch = [self._queue.popleft()]
        count = len(batch[0].digits)
        deadline = time.monotonic() + self.max_wait_seconds
        while True:
            while self._queue and count + len(self._queue[0].digits) <= self.max_batch_size:
                pending = self._queue.popleft()
                batch.append(pending)
                count += len(pending.digits)
            remaining = deadline - time.monotonic()
            if self._queue or count >= self.max_batch_size or remaining <= 0 or not self._on_their_way:
                # Full, the next request would not fit and starts the next batch, or there is
                # nobody (left) to wait for.
                return batch
            self._changed.wait(remaining)

    def _run(self):
        while True:
            with self._changed:
                batch = self._gather()
            if batch is None:
                return
            self._run_batch(batch)

    def close(self):
        """End the batching thread once nothing is queued (a model version that was replaced)."""
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _run_batch(self, batch):
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
        finally:
            with self._changed:
                self._busy = False
                # Waking the batching thread costs a thread switch: only when there is work.
                if self._queue:
                    self._changed.notify()
            for pending in batch:
                pending.done.set()
