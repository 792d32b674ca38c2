"""Peak resident memory of the running benchmark, sampled."""

from __future__ import annotations

import threading

import psutil


class RssSampler(threading.Thread):
    """Peak RSS of this process by sampling: ``ru_maxrss`` of a child started from a big
    parent keeps the parent's high-water mark across ``exec`` on Linux."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = psutil.Process().memory_info().rss
        self._halt = threading.Event()

    def run(self) -> None:
        process = psutil.Process()
        while not self._halt.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._halt.wait(self.interval)

    def stop(self) -> float:
        self._halt.set()
        self.join()
        return max(self.peak, psutil.Process().memory_info().rss) / 2**20
