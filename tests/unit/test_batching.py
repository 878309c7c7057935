import threading
import time

import numpy as np
import pytest

from model.batching import Batcher, BatchFailed


def identify(digits):
    """A stand-in network whose answer for each image is that image's own marker pixel."""
    return digits[:, 0, :10].astype(np.float32)


def image_marked(number):
    digit = np.zeros((1, 28, 28), dtype=np.uint8)
    digit[0, 0, :10] = number % 251
    return digit


def run_in_threads(count, work):
    """`work(index)` in `count` threads; their results, once every thread has finished."""
    results = [None] * count

    def worker(index):
        results[index] = work(index)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a request never got its answer"
    return results


def run_concurrently(count, work):
    start = threading.Barrier(count)

    def started_together(index):
        start.wait()
        return work(index)

    return run_in_threads(count, started_together)


def announced_together(batcher, count):
    """`count` requests that all announce themselves before any submits, as a burst would."""
    everyone_announced = threading.Barrier(count)

    def request(index):
        with batcher.announced() as submit:
            everyone_announced.wait()
            try:
                return submit(image_marked(index), timeout=10)
            except BatchFailed as error:
                return error

    return run_in_threads(count, request)


def join(thread):
    thread.join(10)
    assert not thread.is_alive(), "a request never got its answer"


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the batcher never got there"
        time.sleep(0.001)


def test_concurrent_requests_each_get_their_own_answer():
    sizes = []
    batcher = Batcher(identify, max_batch_size=8, max_wait_seconds=0.005, on_batch=sizes.append)
    results = run_concurrently(64, lambda index: batcher.submit(image_marked(index)))
    for index, result in enumerate(results):
        assert result.shape == (1, 10)
        assert (result == index % 251).all()
    assert sum(sizes) == 64 and max(sizes) <= 8


def test_announced_requests_are_waited_for_and_share_full_batches():
    sizes = []
    batcher = Batcher(identify, max_batch_size=8, max_wait_seconds=30.0, on_batch=sizes.append)
    results = announced_together(batcher, 64)
    assert all((result == index % 251).all() for index, result in enumerate(results))
    # Nobody waited 30 s: each batch left as soon as it was full.
    assert sizes == [8] * 8


def test_max_batch_size_holds():
    sizes = []
    batcher = Batcher(identify, max_batch_size=3, max_wait_seconds=30.0, on_batch=sizes.append)
    announced_together(batcher, 20)
    assert sum(sizes) == 20 and max(sizes) <= 3


def test_a_batch_waits_for_an_announced_request_and_for_nobody_else():
    sizes = []
    batcher = Batcher(identify, max_batch_size=32, max_wait_seconds=30.0, on_batch=sizes.append)
    answers = {}
    first = threading.Thread(target=lambda: answers.update(first=batcher.submit(image_marked(1), timeout=10)))
    with batcher.announced() as submit:
        first.start()
        wait_for(lambda: batcher._busy)  # The first request's batch is waiting for this one.
        assert (submit(image_marked(2), timeout=10) == 2).all()
    join(first)
    assert (answers["first"] == 1).all() and sizes == [2]
    # Alone and unannounced, a request is answered at once, not after the 30 s wait.
    assert (batcher.submit(image_marked(3), timeout=5) == 3).all()
    # An announced request that never submits (no ink, say) stops being waited for.
    late = threading.Thread(target=lambda: answers.update(late=batcher.submit(image_marked(4), timeout=10)))
    with batcher.announced():
        late.start()
        wait_for(lambda: batcher._busy)
    join(late)
    assert (answers["late"] == 4).all() and sizes == [2, 1, 1]


def test_a_request_that_fills_a_batch_alone_runs_at_once_in_its_own_thread():
    threads = []

    def identify_noting_thread(digits):
        threads.append(threading.current_thread())
        return identify(digits)

    batcher = Batcher(identify_noting_thread, max_batch_size=1, max_wait_seconds=30.0)
    with batcher.announced():  # Another request is on its way, but could not share a batch.
        assert (batcher.submit(image_marked(1), timeout=5) == 1).all()
    assert threads == [threading.current_thread()]


def test_with_no_wait_a_lone_request_runs_at_once_in_its_own_thread():
    sizes, threads = [], []

    def identify_noting_thread(digits):
        threads.append(threading.current_thread())
        return identify(digits)

    batcher = Batcher(identify_noting_thread, max_batch_size=32, max_wait_seconds=0.0, on_batch=sizes.append)
    for number in range(5):
        assert (batcher.submit(image_marked(number)) == number).all()
    assert sizes == [1] * 5
    assert threads == [threading.current_thread()] * 5


def test_with_no_wait_requests_arriving_during_a_batch_run_together_next():
    sizes = []
    running, release = threading.Event(), threading.Event()

    def held_first_time(digits):
        if not sizes:
            running.set()
            release.wait(10)
        sizes.append(len(digits))
        return identify(digits)

    batcher = Batcher(held_first_time, max_batch_size=32, max_wait_seconds=0.0)
    results = {}

    def submit(number):
        results[number] = batcher.submit(image_marked(number), timeout=10)

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert running.wait(10)
    later = [threading.Thread(target=submit, args=(number,)) for number in range(1, 4)]
    for thread in later:
        thread.start()
    wait_for(lambda: len(batcher._queue) == 3)  # All three are waiting for the network.
    release.set()
    for thread in [first, *later]:
        join(thread)
    assert sizes == [1, 3]
    assert all((results[number] == number).all() for number in range(4))


def test_an_error_fails_only_the_requests_in_that_batch():
    calls = []

    def flaky(digits):
        calls.append(len(digits))
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return identify(digits)

    batcher = Batcher(flaky, max_batch_size=4, max_wait_seconds=0.0)
    with pytest.raises(BatchFailed, match="out of memory"):
        batcher.submit(image_marked(1))
    assert (batcher.submit(image_marked(2)) == 2).all()  # The batcher itself lives on.


def test_an_error_in_a_shared_batch_fails_exactly_its_members():
    def failing_on_marker_1(digits):
        if (digits[:, 0, 0] == 1).any():
            raise RuntimeError("bad batch")
        return identify(digits)

    batcher = Batcher(failing_on_marker_1, max_batch_size=2, max_wait_seconds=30.0)
    # Request 1 fails the batch of two it is in, and only that batch.
    results = announced_together(batcher, 4)
    failed = [isinstance(result, BatchFailed) for result in results]
    assert sum(failed) == 2 and failed[1]
    assert all((result == index).all() for index, result in enumerate(results) if not failed[index])
    assert (batcher.submit(image_marked(5)) == 5).all()


def test_a_timeout_is_reported_and_the_request_leaves_the_queue():
    release = threading.Event()
    batcher = Batcher(lambda digits: release.wait(10) and identify(digits), max_batch_size=1)
    busy = threading.Thread(target=batcher.submit, args=(image_marked(1),))
    busy.start()
    wait_for(lambda: batcher._busy)
    with pytest.raises(BatchFailed, match="No answer"):
        batcher.submit(image_marked(2), timeout=0.1)
    assert len(batcher._queue) == 0
    release.set()
    join(busy)
    assert (batcher.submit(image_marked(3)) == 3).all()


def test_invalid_batch_size_is_refused():
    with pytest.raises(ValueError):
        Batcher(identify, max_batch_size=0)


def test_a_closed_batcher_ends_its_thread_once_nothing_is_queued():
    batcher = Batcher(identify, max_batch_size=4)
    assert batcher.submit(image_marked(3))[0][0] == 3
    batcher.close()
    batcher._thread.join(timeout=5)
    assert not batcher._thread.is_alive()
    # A request that still holds it runs its own batch (the network is idle).
    assert batcher.submit(image_marked(5))[0][0] == 5
