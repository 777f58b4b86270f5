"""Readers share, a writer is alone and is not starved."""

from __future__ import annotations

import threading

from include_server.rwlock import RWLock


def test_readers_share_and_writer_waits() -> None:
    lock = RWLock()
    inside = threading.Barrier(2, timeout=5)
    writer_done = threading.Event()

    def reader() -> None:
        with lock.read():
            inside.wait()  # both readers are inside at once, or this times out

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)

    order: list[str] = []
    with lock.read():

        def writer() -> None:
            with lock.write():
                order.append("writer")
            writer_done.set()

        w = threading.Thread(target=writer)
        w.start()
        assert not writer_done.wait(0.05)  # held off by the reader
        order.append("reader")
    assert writer_done.wait(5)
    w.join(5)
    assert order == ["reader", "writer"]
