"""The patch grids of screenshots prepared lately, by content digest.

A follow-up brings its thread's screenshots again, and so do the short
transcription pass and the diagnosis after it. Their token ids and rotary
positions need only each image's grid (how many patches down and across);
the patches themselves (decoding the image and running the image processor,
about 20 ms of a 1280x800 screenshot's preparation on one CPU core pair)
are needed only if the encoding has to be made again. So the grid the image
processor gave is kept by digest, and a screenshot seen lately is prepared
without its pixels when its encoding is at hand (`preparation`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

Grid = tuple[int, int, int]  # (time, height, width) in patches

GRIDS_KEPT = 4096  # a few hundred bytes each


class ImageGrids:
    """At most `capacity` grids by image digest, least recently used out first."""

    def __init__(self, capacity: int = GRIDS_KEPT) -> None:
        self._capacity = capacity
        self._grids: OrderedDict[str, Grid] = OrderedDict()
        self._lock = threading.Lock()  # the preparation pool has several threads

    def __len__(self) -> int:
        return len(self._grids)

    def get(self, digest: str) -> Grid | None:
        with self._lock:
            grid = self._grids.get(digest)
            if grid is not None:
                self._grids.move_to_end(digest)
            return grid

    def put(self, digest: str, grid: Grid) -> None:
        with self._lock:
            self._grids[digest] = grid
            self._grids.move_to_end(digest)
            while len(self._grids) > self._capacity:
                self._grids.popitem(last=False)
