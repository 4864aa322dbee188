"""Choose each row's next token from its logits, as the model's generation config asks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch


class TokenChooser:
    """Greedy, or temperature/top-k/top-p sampling when the generation config samples.

    Rows still short of their `min_new_tokens` cannot choose an end token.
    That rule runs on the device against an end-token mask made once per
    device and vocabulary; which rows it holds for (and which rows are
    greedy) go to the device through pinned host buffers made once, with
    non-blocking copies: a copy from pageable memory would wait for the
    device to finish the step. The chosen ids are read back once per call,
    with one non-blocking copy into a pinned host buffer, and the host waits
    for that copy only after `meanwhile` (the next step's preparation) has
    run, while the device is still busy with this one. A pinned buffer is
    written again only in a later call, after that wait.
    """

    def __init__(self, generation_config: Any) -> None:
        eos = generation_config.eos_token_id
        self.end_tokens: frozenset[int] = frozenset(
            [] if eos is None else [eos] if isinstance(eos, int) else eos
        )
        self._sample = bool(generation_config.do_sample)
        self._temperature = float(generation_config.temperature or 1.0)
        self._top_k = int(generation_config.top_k or 0)
        self._top_p = float(generation_config.top_p or 1.0)
        self._end_masks: dict[tuple[torch.device, int], torch.Tensor] = {}
        self._read_back: dict[torch.device, torch.cuda.Event] = {}
        self._pinned_buffers: dict[tuple[torch.device, str], torch.Tensor] = {}

    def _end_mask(self, logits: torch.Tensor) -> torch.Tensor:
        """[1, vocab] True at end tokens, on `logits`' device (made once, then reused)."""
        key = (logits.device, logits.shape[-1])
        mask = self._end_masks.get(key)
        if mask is None:
            mask = torch.zeros((1, logits.shape[-1]), dtype=torch.bool)
            mask[0, [token for token in self.end_tokens if token < logits.shape[-1]]] = True
            mask = self._end_masks[key] = mask.to(logits.device)
        return mask

    def choose(
        self,
        logits: torch.Tensor,
        may_end: Sequence[bool],
        greedy: Sequence[bool] = (),
        meanwhile: Callable[[], None] | None = None,
    ) -> list[int]:
        """Next token of each row of `logits` [rows, vocab]; rows marked in `greedy`
        take the likeliest token even when the generation config samples; `meanwhile`
        runs before the wait for the device."""
        logits = logits.float()
        if self.end_tokens and not all(may_end):
            # A masked fill, not `nonzero` indexing: no read back to size a tensor.
            blocked = self._flags([not allowed for allowed in may_end], logits.device, "ended")
            logits = logits.masked_fill(blocked.unsqueeze(1) & self._end_mask(logits), -torch.inf)
        if not self._sample or (greedy and all(greedy)):
            chosen = logits.argmax(dim=-1)
        else:
            chosen = self._sampled(logits)
            if any(greedy):
                rows = self._flags(greedy, logits.device, "greedy")
                chosen = torch.where(rows, logits.argmax(dim=-1), chosen)
        if chosen.device.type != "cuda":  # host memory already: reading it is the read back
            if meanwhile is not None:
                meanwhile()
            return [int(token) for token in chosen.tolist()]
        host, copied = self._pinned(chosen)
        host.copy_(chosen, non_blocking=True)
        copied.record()
        if meanwhile is not None:
            meanwhile()
        copied.synchronize()  # the one wait for the device per call
        return [int(token) for token in host.tolist()]

    def _flags(self, flags: Sequence[bool], device: torch.device, name: str) -> torch.Tensor:
        """[rows] bool `flags` on `device`, sent without waiting for the device."""
        if device.type != "cuda":
            return torch.tensor(list(flags), dtype=torch.bool, device=device)
        rows = self._pinned_rows((device, name), len(flags), torch.bool)
        rows.copy_(torch.tensor(list(flags), dtype=torch.bool))
        return rows.to(device, non_blocking=True)

    def _pinned(self, chosen: torch.Tensor) -> tuple[torch.Tensor, torch.cuda.Event]:
        """A pinned host buffer for `chosen`'s ids and an event marking its copy (kept)."""
        buffer = self._pinned_rows((chosen.device, "chosen"), chosen.shape[0], torch.long)
        event = self._read_back.get(chosen.device)
        if event is None:
            event = self._read_back[chosen.device] = torch.cuda.Event()  # type: ignore[no-untyped-call]
        return buffer, event

    def _pinned_rows(
        self, key: tuple[torch.device, str], rows: int, dtype: torch.dtype
    ) -> torch.Tensor:
        """The first `rows` of a pinned host buffer kept under `key`, grown when short."""
        buffer = self._pinned_buffers.get(key)
        if buffer is None or buffer.shape[0] < rows:
            buffer = torch.empty(max(64, rows), dtype=dtype, pin_memory=True)
            self._pinned_buffers[key] = buffer
        return buffer[:rows]

    def _sampled(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits / max(self._temperature, 1e-5)
        if 0 < self._top_k < logits.shape[-1]:
            kth = torch.topk(logits, self._top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, -torch.inf)
        if self._top_p < 1.0:
            ordered, order = torch.sort(logits, descending=True, dim=-1)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            drop = cumulative - ordered.softmax(dim=-1) > self._top_p  # keep the token that crosses
            logits = logits.scatter(-1, order, ordered.masked_fill(drop, -torch.inf))
        return torch.multinomial(logits.softmax(dim=-1), num_samples=1).squeeze(1)
