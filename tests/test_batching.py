import threading
import time

import numpy as np
import pytest

from model.batching import BatchFailed, Batcher


def identify(digits):
    """A stand-in network whose answer for each image is that image's own marker pixel."""
    return digits[:, 0, :10].astype(np.float32)


def image_marked(number):
    digit = np.zeros((1, 28, 28), dtype=np.uint8)
    digit[0, 0, :10] = number % 251
    return digit


def run_concurrently(count, work):
    results = [None] * count
    start = threading.Barrier(count)

    def worker(index):
        start.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_requests_each_get_their_own_answer():
    sizes = []
    batcher = Batcher(identify, max_batch_size=8, max_wait_seconds=0.005, on_batch=sizes.append)
    results = run_concurrently(64, lambda index: batcher.submit(image_marked(index)))
    for index, result in enumerate(results):
        assert result.shape == (1, 10)
        assert (result == index % 251).all()
    assert sum(sizes) == 64
    assert max(sizes) <= 8
    assert max(sizes) > 1, "requests that arrive together should share a batch"


def test_max_batch_size_holds():
    sizes = []
    batcher = Batcher(identify, max_batch_size=3, max_wait_seconds=0.05, on_batch=sizes.append)
    run_concurrently(20, lambda index: batcher.submit(image_marked(index)))
    assert sum(sizes) == 20 and max(sizes) <= 3


def test_a_request_waits_for_company_but_not_for_a_full_batch():
    sizes = []
    batcher = Batcher(identify, max_batch_size=32, max_wait_seconds=1.0, on_batch=sizes.append)
    first = threading.Thread(target=batcher.submit, args=(image_marked(1),))
    first.start()
    time.sleep(0.1)  # Well inside the wait: the second request joins the first one's batch.
    assert (batcher.submit(image_marked(2), timeout=10) == 2).all()
    first.join(10)
    # Alone, a request is answered once the wait runs out, not held for 31 more.
    assert (batcher.submit(image_marked(3), timeout=10) == 3).all()
    assert sizes == [2, 1]


def test_with_no_wait_a_lone_request_runs_at_once():
    sizes = []
    batcher = Batcher(identify, max_batch_size=32, max_wait_seconds=0.0, on_batch=sizes.append)
    for number in range(5):
        assert (batcher.submit(image_marked(number)) == number).all()
    assert sizes == [1] * 5


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
    release = threading.Event()

    def slow_then_failing(digits):
        release.wait(5)
        if digits[:, 0, 0].max() >= 100:
            raise RuntimeError("bad batch")
        return identify(digits)

    batcher = Batcher(slow_then_failing, max_batch_size=2, max_wait_seconds=2.0)

    def submit(index):
        try:
            return batcher.submit(image_marked(index * 100), timeout=10)
        except BatchFailed as error:
            return error

    threads_results = {}

    def run(index):
        threads_results[index] = submit(index)

    first = threading.Thread(target=run, args=(0,))
    first.start()
    time.sleep(0.05)
    second = threading.Thread(target=run, args=(1,))
    second.start()
    time.sleep(0.05)
    release.set()
    first.join(10)
    second.join(10)
    # Both were in one batch: the marker 100 failed it, so both requests see the error.
    assert all(isinstance(result, BatchFailed) for result in threads_results.values())
    assert (batcher.submit(image_marked(3)) == 3).all()


def test_a_timeout_is_reported():
    batcher = Batcher(lambda digits: time.sleep(1) or identify(digits), max_batch_size=1)
    with pytest.raises(BatchFailed, match="No answer"):
        batcher.submit(image_marked(1), timeout=0.1)


def test_invalid_batch_size_is_refused():
    with pytest.raises(ValueError):
        Batcher(identify, max_batch_size=0)
