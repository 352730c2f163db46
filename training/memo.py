"""A bounded, thread-safe memo whose values are computed once per key.

The ``train`` stage runs the backtest folds and the served refit on a few threads
(:func:`training.train.run`), and their selection candidates share boosters, linear
parts and baselines fitted on the same rows. A key asked for by two threads at once is
computed by the first; the second waits for that value instead of fitting it again.
A computation that raises is not remembered (the next caller tries again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.value: object = None


class OnceMemo(Generic[K, V]):
    """``get(key, compute)``: the value of ``key``, computed at most once at a time.

    At most ``size`` values are kept (least recently used dropped first).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._pending: dict[K, _Pending] = {}
        self._lock = threading.Lock()

    def get(self, key: K, compute: Callable[[], V]) -> V:
        while True:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key]
                waiting = self._pending.get(key)
                if waiting is None:
                    mine = self._pending[key] = _Pending()
                    break
            waiting.done.wait()
            if waiting.ok:
                return waiting.value  # type: ignore[return-value]
            # the other thread's computation raised: try it here
        try:
            value = compute()
        except BaseException:
            with self._lock:
                del self._pending[key]
            mine.done.set()
            raise
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
            del self._pending[key]
        mine.value, mine.ok = value, True
        mine.done.set()
        return value

    def clear(self) -> None:
        """Forget every computed value (pending computations finish normally)."""
        with self._lock:
            self._values.clear()
