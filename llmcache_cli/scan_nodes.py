"""One scan per primary of a Redis Cluster, run concurrently, consumed in the caller's thread.

Each primary is scanned by its own thread on its own connection, so the primaries work at the
same time; the batches come back through a small bounded queue to the thread that iterates, which
does all the counting (no locks in the reports) and calls the progress callback. A single server
(or ``concurrent=False``) is scanned in the caller's thread with no queue at all.

An error on one primary stops the others and is raised once, translated, naming that node.
Ctrl-C (or the caller leaving the loop) stops every worker after its current batch; a worker
waiting on a silent node notices after the socket timeout, and is a daemon thread meanwhile, so
nothing waits for it. Use it as a context manager so the workers are stopped when the block ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any

from llmcache_cli.client import Node, RedisHandle
from llmcache_cli.resp import Batch

NodeBatches = Callable[[int, Node], Iterable[Batch]]
_DONE = object()
QUEUE_PER_NODE = 2  # batches a worker may run ahead of the consumer
_PUT_WAIT = 0.05  # seconds between looks at the stop flag while the queue is full
_JOIN_WAIT = 0.5  # seconds to let stopped workers return their connections


class NodeScan:
    """Iterate for ``(node index, batch)``; see the module docstring."""

    def __init__(self, handle: RedisHandle, batches: NodeBatches, concurrent: bool = True) -> None:
        self.handle = handle
        self.batches = batches
        self.concurrent = concurrent and len(handle.nodes) > 1
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: Generator[tuple[int, Batch], None, None] | None = None
        self.finished: set[int] = set()  # nodes whose every batch was handed over

    def __enter__(self) -> NodeScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __iter__(self) -> Generator[tuple[int, Batch], None, None]:
        self._running = self._together() if self.concurrent else self._in_turn()
        return self._running

    def _in_turn(self) -> Generator[tuple[int, Batch], None, None]:
        for i, node in enumerate(self.handle.nodes):
            with self.handle.translated(node):
                for batch in self.batches(i, node):
                    yield i, batch
            self.finished.add(i)

    def _together(self) -> Generator[tuple[int, Batch], None, None]:
        inbox: queue.Queue[tuple[int, Any]] = queue.Queue(QUEUE_PER_NODE * len(self.handle.nodes))
        for i, node in enumerate(self.handle.nodes):
            thread = threading.Thread(
                target=self._work, args=(i, node, inbox), name=f"llmcache-scan-{node.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        running = len(self._threads)
        try:
            while running:
                i, item = inbox.get()
                if item is _DONE:
                    running -= 1
                    self.finished.add(i)
                elif isinstance(item, BaseException):
                    with self.handle.translated(self.handle.nodes[i]):
                        raise item
                else:
                    yield i, item
        finally:
            self._stop_workers()

    def _work(self, i: int, node: Node, inbox: queue.Queue[tuple[int, Any]]) -> None:
        try:
            iterator = iter(self.batches(i, node))
            try:
                for batch in iterator:
                    if not self._put(inbox, (i, batch)):
                        return
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()  # a generator: its ``finally`` returns the connection now
        except BaseException as exc:  # handed to the consuming thread, raised there
            self._put(inbox, (i, exc))
        finally:
            self._put(inbox, (i, _DONE))

    def _put(self, inbox: queue.Queue[tuple[int, Any]], item: tuple[int, Any]) -> bool:
        while not self._stop.is_set():
            try:
                inbox.put(item, timeout=_PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def stop(self) -> None:
        """End the scan: close the running iterator (its node connections are returned) and stop
        the workers."""
        running, self._running = self._running, None
        if running is not None:
            running.close()
        self._stop_workers()

    def _stop_workers(self) -> None:
        """Tell the workers to stop, and give them a moment to return their connections."""
        self._stop.set()
        for thread in self._threads:
            thread.join(_JOIN_WAIT / max(1, len(self._threads)))
        self._threads = []


def each_node(handle: RedisHandle, batches: NodeBatches, concurrent: bool = True) -> NodeScan:
    """``batches(i, node)`` for every primary, as one stream of ``(i, batch)``."""
    return NodeScan(handle, batches, concurrent)
