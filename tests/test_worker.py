"""The background worker: order, bounded queue, failures surface on the caller's thread."""

from __future__ import annotations

import threading

import pytest

from keras_inspect.worker import Worker


def test_items_are_processed_in_order_on_another_thread():
    seen, threads = [], set()

    def process(item):
        threads.add(threading.current_thread().name)
        seen.append(item)

    worker = Worker(process, name="ki-test")
    for i in range(20):
        worker.submit(i)
    worker.drain()
    assert seen == list(range(20))
    assert threads == {"ki-test"}
    worker.stop()
    worker.submit(20)  # a stopped worker starts a new thread
    worker.stop()
    assert seen[-1] == 20


def test_at_most_one_item_waits():
    release = threading.Event()
    started = threading.Event()

    def process(item):
        started.set()
        release.wait(5)

    worker = Worker(process)
    worker.submit("running")
    started.wait(5)
    worker.submit("waiting")
    blocked = threading.Thread(target=worker.submit, args=("third",))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # the queue is full: the third submit waits
    release.set()
    blocked.join(5)
    worker.stop()


def test_a_failure_is_raised_on_the_callers_thread_once():
    def process(item):
        if item == "bad":
            raise RuntimeError("broken writer")

    worker = Worker(process)
    worker.submit("bad")
    with pytest.raises(RuntimeError, match="broken writer"):
        worker.drain()
    worker.submit("good")
    worker.stop()
