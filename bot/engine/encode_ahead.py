"""Screenshots encoded ahead, on threads of their own, while the batch keeps stepping.

A request's screenshots are encoded as soon as its prompt is prepared, not
when the model thread admits it. The vision encoder is most of a
screenshot's prefill, and on the model thread it pauses every running
answer for as long as it runs (the longest decode gap while a 1920x1080
screenshot joins), and the steps wait for it. Here it runs beside them: on
a GPU on a CUDA stream of its own, on the CPU on the cores the steps leave
idle. Two threads by default: the encoder's operators leave cores idle
between them (each is one parallel region, then a wait), and with one
thread the joiners' screenshots wait for each other in a chain, the longest
stage of a burst; with two, one screenshot's encoding fills the other's
gaps. A screenshot two requests bring is encoded once: the second takes the
encoding the first holds, or waits for the one under way. A request counts
as prepared for the scheduler once its screenshots are encoded, so the model
thread takes finished encodings and never waits for one. (vLLM runs the
encoder inside the step; splitting it out is what encoder-disaggregated
serving does across machines, here across threads.)

The encodings one request holds until its prefill takes them are counted
against `budget_bytes` (the encoder cache's budget): past it, a screenshot
no other request holds or is encoding is left for the model thread to encode
at admission, as it would be without this (each thread checks the budget
before it encodes, so the held bytes can pass it by the encodings under way,
at most one per thread). So is one whose encoding failed (logged; the model
thread's own attempt handles running out of memory). A request cancelled
while in line is not encoded, and neither is one its thread's cached prefix
covers (a follow-up's: the prefill starts after it). Encodings taken by a
prefill go into the encoder cache there.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from bot.engine.chunked_prefill import ChunkedPrefill
from bot.engine.encoder_cache import Encoding, HeldEncodings
from bot.engine.prepared import ImagesInPrompt, PreparedPrompt, PromptImage
from bot.engine.sequence import Sequence

log = logging.getLogger(__name__)

ENCODED_AHEAD = "supportbot_engine_images_encoded_ahead"

Shared = dict[str, Encoding]
Waits = dict[str, "Future[Encoding | None]"]


class AheadEncoder:
    """Encodes prepared requests' screenshots on `workers` threads, within `budget_bytes`.

    `budget_bytes` of 0 turns it off: `after` hands back the preparation itself.
    `covered` says how many of a prompt's tokens its thread's cached prefix holds now
    (images among them are not encoded). On a GPU each thread encodes on a
    CUDA stream of its own, beside the model thread's.
    """

    def __init__(
        self,
        chunks: ChunkedPrefill,
        *,
        budget_bytes: int,
        workers: int,
        device: torch.device,
        observe: Callable[[str, float], None],
        covered: Callable[[ImagesInPrompt], int] = lambda images: 0,
    ) -> None:
        self._chunks = chunks
        self._covered = covered
        self._budget = budget_bytes
        self._held = 0  # bytes held by requests not yet prefilled, less `_released`
        # Sizes given back by finalizers, taken off `_held` under the lock. A finalizer
        # runs wherever a garbage collection starts, inside a locked section too, so it
        # must not take the lock itself.
        self._released: collections.deque[int] = collections.deque()
        self._lock = threading.Lock()
        # By digest: encodings being made, and those made while a request still holds them
        # (weak: kept alive by the holders only), so two requests' screenshot is encoded once.
        self._under_way: Waits = {}
        self._held_by_others: weakref.WeakValueDictionary[str, Encoding] = (
            weakref.WeakValueDictionary()
        )
        self._observe = observe
        self._worker = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="supportbot-encode"
        )
        self._device = device
        # On a GPU each encoder thread has a CUDA stream of its own, so that waiting for
        # its encodings never waits for another thread's.
        self._streams = threading.local()

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return self._held_now()

    def at_hand(self, digest: str) -> bool:
        """Whether the image with `digest` is encoded (in the cache, or held by a request
        in line) or being encoded: a request bringing it needs no encoding of its own."""
        if self._chunks.cached(digest):  # before this lock: the cache's is never held with it
            return True
        with self._lock:
            return digest in self._under_way or self._held_by_others.get(digest) is not None

    def after(self, sequence: Sequence) -> Future[PreparedPrompt]:
        """A future of `sequence`'s prompt, done once it is prepared and its screenshots
        are encoded (into `sequence.encoded`) or left to the model thread."""
        prepared = sequence.prepared
        if self._budget <= 0:
            return prepared
        ready: Future[PreparedPrompt] = Future()

        def on_prepared(done: Future[PreparedPrompt]) -> None:
            if done.cancelled() or done.exception() is not None:
                _settle(ready, done)
                return
            prompt = done.result()
            if not prompt.image_patches:
                ready.set_result(prompt)
                return
            try:
                self._worker.submit(self._encode, sequence, prompt, ready)
            except RuntimeError:  # shut down: the model thread encodes, if it runs again
                ready.set_result(prompt)

        prepared.add_done_callback(on_prepared)
        return ready

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _encode(
        self, sequence: Sequence, prompt: PreparedPrompt, ready: Future[PreparedPrompt]
    ) -> None:
        try:
            if not sequence.cancelled.is_set():
                covered = self._covered(prompt.images_in(sequence.request.reuse_key))
                sequence.encoded = self._encoded(prompt, covered)
        except Exception:  # the model thread encodes it at admission, OOM handling and all
            log.warning(
                "encoding a screenshot ahead failed; it is encoded at admission", exc_info=True
            )
        finally:
            ready.set_result(prompt)

    def _encoded(self, prompt: PreparedPrompt, covered: int) -> HeldEncodings | None:
        images = prompt.images_from(covered)
        if not images:
            return None
        # Asked before taking this lock: the cache has its own, never held with this one.
        cached = {image.digest for image in images if self._chunks.cached(image.digest)}
        with self._lock:
            # Past the budget, only what another request already holds or is encoding.
            may_encode = self._held_now() < self._budget
            shared, waits, mine = self._claim(images, cached, may_encode=may_encode)
        fresh = self._encode_claimed(mine)
        encodings = {**shared, **fresh}
        for digest, under_way in waits.items():
            try:
                encoding = under_way.result()
            except Exception:  # logged by the thread that failed; the model thread encodes it
                continue
            if encoding is not None:
                encodings[digest] = encoding
        if not encodings:  # every screenshot is in the encoder cache already
            return None
        held = HeldEncodings(encodings)
        size = held.nbytes  # a shared encoding counts for each holder: the budget errs low
        with self._lock:
            self._held += size
        # Given back when the prefill drops them, or with the request however it ends.
        weakref.finalize(held, self._release, size)
        if fresh:
            self._observe(ENCODED_AHEAD, len(fresh))
        return held

    def _claim(
        self, images: list[PromptImage], cached: set[str], *, may_encode: bool
    ) -> tuple[Shared, Waits, list[PromptImage]]:
        """Split `images` (under the lock) into encodings another request holds, ones under
        way on another thread, and the ones this thread encodes (none unless `may_encode`),
        each digest once; those in `cached` (the encoder cache's) are left out."""
        shared: Shared = {}
        waits: Waits = {}
        mine: dict[str, PromptImage] = {}
        for image in images:
            digest = image.digest
            if digest in shared or digest in waits or digest in mine:
                continue
            if digest in cached:  # taken from the cache at admission
                continue
            if (held := self._held_by_others.get(digest)) is not None:
                shared[digest] = held
            elif (under_way := self._under_way.get(digest)) is not None:
                waits[digest] = under_way
            elif may_encode:
                self._under_way[digest] = Future()
                mine[digest] = image
        return shared, waits, list(mine.values())

    def _encode_claimed(self, mine: list[PromptImage]) -> dict[str, Encoding]:
        """Encode the images this thread claimed and settle their futures for the waiters
        (None for one the encoder cache holds)."""
        if not mine:
            return {}
        try:
            with torch.inference_mode(), self._on_own_stream():
                fresh = self._chunks.encode_missing(mine)
        except BaseException as error:
            with self._lock:
                claimed = [self._under_way.pop(image.digest) for image in mine]
            for under_way in claimed:
                under_way.set_exception(error)
            raise
        with self._lock:
            claimed = [self._under_way.pop(image.digest) for image in mine]
            for digest, encoding in fresh.items():
                self._held_by_others[digest] = encoding
        for image, under_way in zip(mine, claimed, strict=True):
            under_way.set_result(fresh.get(image.digest))
        return fresh

    @contextlib.contextmanager
    def _on_own_stream(self) -> Iterator[None]:
        if self._device.type != "cuda":
            yield
            return
        stream: torch.cuda.Stream | None = getattr(self._streams, "stream", None)
        if stream is None:
            stream = self._streams.stream = torch.cuda.Stream(self._device)  # type: ignore[no-untyped-call]
        with torch.cuda.stream(stream):
            yield
        # Done before the model thread may read them, on whatever stream it runs.
        stream.synchronize()

    def _release(self, size: int) -> None:
        self._released.append(size)  # deque.append is atomic: no lock (see `_released`)

    def _held_now(self) -> int:
        """Bytes held, the sizes given back so far taken off (call under the lock)."""
        while self._released:
            self._held -= self._released.popleft()
        return self._held


def _settle(target: Future[PreparedPrompt], source: Future[PreparedPrompt]) -> None:
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
