"""Running one action from many threads at the same instant, for the race tests."""

import threading
from collections.abc import Callable
from typing import Any


def run_concurrently(
    count: int, action: Callable[[int], Any], *, expected: tuple[type[BaseException], ...] = ()
) -> list:
    """Calls action(0..count-1) from `count` threads released together by a barrier; returns the results in
    index order. An exception of an `expected` type is returned as that thread's result instead of lost."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except expected as outcome:
            results[index] = outcome

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
