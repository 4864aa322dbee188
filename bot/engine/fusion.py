"""The decode step's own forward over the loaded weights: fewer, larger operators per layer.

Transformers' Qwen3 layer runs ~48 operators per decode step: RMSNorm as
five (cast, pow, mean, rsqrt, mul) four times, three projections for Q, K
and V and two for gate and up, rotary as ten, the mask turned into K/V
copies (`repeat_kv`). `fuse` transforms a loaded Qwen3 / Qwen3-VL text
decoder once: Q, K and V weights become one tensor, gate and up another, and
the modules' own weights become views of them (prefill still runs the
model's forward, and no weight is held twice). `FusedText.step` is then
one decode step in 16 operators a layer, every one capture-safe:

- RMSNorm is `torch.nn.functional.rms_norm` (one fused kernel on CUDA);
  the Q and K head norms run as one over all heads, the weights applied
  after, rounding as transformers does (normalise, cast, then scale); the
  layer norms take their weight inside the kernel, so in bf16 they scale
  before the cast where transformers scales after (a rounding apart: the
  fused step's logits stay within the tests' tolerance of the model's);
- one QKV and one gate/up matrix product, split with views;
- rotary on Q and K together: `x * cos + swap_halves(x) * signed_sin`, the
  sign of `rotate_half` folded into the sine, computed once per step;
- attention reads the pool's unexpanded K/V: for one query token the
  `group` query heads sharing a key/value head are that head's `group`
  query rows, so a plain scaled-dot-product attention over [rows, kv heads,
  group, dim] against [rows, kv heads, columns, dim] is grouped-query
  attention with the step's mask, on every backend (`enable_gqa` with a
  mask falls back to the math kernel on CUDA, which expands K/V again);
- the output and down projections add the residual in the same GEMM (`addmm`).

A model whose layers do not have exactly this layout (another architecture,
adapters left unmerged, quantised linears, sliding windows, a rope that
changes with length) is left alone and decodes through its own forward.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn import functional

log = logging.getLogger(__name__)

# Ropes whose frequencies depend on the sequence's length change between steps.
LENGTH_DEPENDENT_ROPES = {"dynamic", "longrope"}


class KeyValueWriter(Protocol):
    """The pool a step writes to: `SlotCache.update` and the mask of its bound step."""

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass(frozen=True)
class FusedLayer:
    """One decoder layer's weights as the fused step reads them."""

    input_norm: torch.Tensor  # [hidden]
    qkv: torch.Tensor  # [(q + 2 kv heads) * dim, hidden]
    qkv_bias: torch.Tensor | None
    head_norms: torch.Tensor  # [q + kv heads, dim]: q_norm's weight per Q head, k_norm's per K
    output: torch.Tensor  # [hidden, q heads * dim]
    post_norm: torch.Tensor  # [hidden]
    gate_up: torch.Tensor  # [2 * intermediate, hidden]
    down: torch.Tensor  # [hidden, intermediate]


class FusedText:
    """A text decoder's decode step over fused weights (see the module's docstring)."""

    def __init__(self, text: Any, layers: list[FusedLayer], eps: float) -> None:
        attention = text.layers[0].self_attn
        config = attention.config
        self._embed: torch.Tensor = text.embed_tokens.weight
        self._final_norm: torch.Tensor = text.norm.weight
        self._layers = layers
        self._eps = eps
        self._heads = int(config.num_attention_heads)
        self._kv_heads = int(config.num_key_value_heads)
        self._dim = int(attention.head_dim)
        self._scale = float(attention.scaling)
        rotary = text.rotary_emb
        # transformers moves inv_freq to the input's device on every call: it may sit elsewhere.
        inv_freq = rotary.inv_freq.to(device=self._embed.device, dtype=torch.float32)
        # Both halves of the head share the frequencies (transformers' `cat((f, f))`).
        self._frequencies = torch.cat((inv_freq, inv_freq))
        half = self._dim // 2
        sign = torch.ones(self._dim, device=inv_freq.device)
        sign[:half] = -1.0  # rotate_half negates the second half moved to the front
        self._sine_sign = sign * float(rotary.attention_scaling)
        self._cosine_scale = float(rotary.attention_scaling)

    def step(
        self,
        ids: torch.Tensor,
        rope_positions: torch.Tensor,
        attention_mask: torch.Tensor,
        cache: KeyValueWriter,
    ) -> torch.Tensor:
        """Final hidden states, [rows, hidden], of one decode token per row.

        `ids` [rows, 1]; `rope_positions` [rows, 1], the rotary position of each
        row's token (the three multimodal rope positions are equal when
        decoding, so one row of them is the whole rope); `attention_mask`
        [rows, 1, 1, columns], True where a row may attend.
        """
        rows = ids.shape[0]
        dtype = self._embed.dtype
        hidden = functional.embedding(ids.view(rows), self._embed)
        angles = rope_positions.to(torch.float32) * self._frequencies  # [rows, dim]
        cos = (angles.cos() * self._cosine_scale).to(dtype).view(rows, 1, self._dim)
        sin = (angles.sin() * self._sine_sign).to(dtype).view(rows, 1, self._dim)
        bias = additive_mask(attention_mask, dtype)  # once per step, not per layer
        for index, layer in enumerate(self._layers):
            hidden = self._layer(hidden, layer, index, cos, sin, bias, cache)
        return functional.rms_norm(hidden, self._final_norm.shape, self._final_norm, self._eps)

    def _layer(
        self,
        hidden: torch.Tensor,
        layer: FusedLayer,
        index: int,
        cos: torch.Tensor,
        sin: torch.Tensor,
        bias: torch.Tensor,
        cache: KeyValueWriter,
    ) -> torch.Tensor:
        rows = hidden.shape[0]
        heads, kv_heads, dim = self._heads, self._kv_heads, self._dim
        normed = functional.rms_norm(hidden, layer.input_norm.shape, layer.input_norm, self._eps)
        qkv = functional.linear(normed, layer.qkv, layer.qkv_bias).view(
            rows, heads + 2 * kv_heads, dim
        )
        # Normalising every head (V's too, then unused) reads one contiguous tensor:
        # the Q and K heads alone are a strided slice once there are two rows.
        normed_heads = functional.rms_norm(qkv, (dim,), None, self._eps)
        qk = normed_heads[:, : heads + kv_heads] * layer.head_norms
        swapped = qk.view(rows, heads + kv_heads, 2, dim // 2).flip(-2).view(qk.shape)
        qk = torch.addcmul(qk * cos, swapped, sin)
        keys = qk[:, heads:].unsqueeze(2)  # [rows, kv heads, 1, dim]
        values = qkv[:, heads + kv_heads :].unsqueeze(2)
        all_keys, all_values = cache.update(keys, values, index)
        group = heads // kv_heads
        queries = qk[:, :heads].view(rows, kv_heads, group, dim)  # query head h = kv * group + g
        attended = functional.scaled_dot_product_attention(
            queries, all_keys, all_values, attn_mask=bias, scale=self._scale
        )
        hidden = torch.addmm(hidden, attended.reshape(rows, heads * dim), layer.output.t())
        normed = functional.rms_norm(hidden, layer.post_norm.shape, layer.post_norm, self._eps)
        gate, up = functional.linear(normed, layer.gate_up).chunk(2, dim=-1)
        return torch.addmm(hidden, functional.silu(gate) * up, layer.down.t())


_FUSED: weakref.WeakKeyDictionary[Any, FusedText] = weakref.WeakKeyDictionary()


def fuse(text: Any) -> FusedText | None:
    """The fused decode step of text decoder `text`, its weights fused once; None if it cannot.

    Call it after the model is on its device and any adapter is merged:
    moving the model afterwards would part the modules' weights from the
    fused ones.
    """
    if text in _FUSED:
        return _FUSED[text]
    problem = _layout_problem(text)
    if problem:
        log.info("decoding through the model's own forward: %s", problem)
        return None
    layers = [_fuse_layer(layer) for layer in text.layers]
    fused = _FUSED[text] = FusedText(text, layers, float(text.norm.variance_epsilon))
    log.info(
        "decode steps run over fused weights (%d layers: QKV and gate/up each one)", len(layers)
    )
    return fused


def _layout_problem(text: Any) -> str | None:
    """Why `text` is not a layout `FusedText` runs exactly, or None."""
    for name in ("embed_tokens", "layers", "norm", "rotary_emb"):
        if not hasattr(text, name):
            return f"the text decoder has no {name}"
    if getattr(text.rotary_emb, "rope_type", "default") in LENGTH_DEPENDENT_ROPES:
        return f"its rope ({text.rotary_emb.rope_type}) depends on the length"
    if not hasattr(text.rotary_emb, "inv_freq"):
        return "its rotary embedding has no inv_freq"
    if getattr(text.config, "hidden_act", None) not in ("silu", "swish"):
        return "the MLP's activation is not SiLU"
    eps = {_eps(text.norm)}
    for layer in text.layers:
        attention, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
        norms = [getattr(attention, "q_norm", None), getattr(attention, "k_norm", None)]
        norms += [getattr(layer, "input_layernorm", None)]
        norms += [getattr(layer, "post_attention_layernorm", None)]
        if any(_eps(norm) is None for norm in norms):
            return "a layer lacks Qwen3's RMSNorms"
        eps |= {_eps(norm) for norm in norms}
        found = [getattr(attention, name, None) for name in ("q_proj", "k_proj", "v_proj")]
        found += [getattr(attention, "o_proj", None)]
        found += [getattr(mlp, name, None) for name in ("gate_proj", "up_proj", "down_proj")]
        linears = [linear for linear in found if type(linear) is nn.Linear]
        if len(linears) != len(found):
            return "a projection is not a plain nn.Linear (an adapter, or quantised)"
        if any(linear.bias is not None for linear in linears[3:]):
            return "an output or MLP projection has a bias"
        if len({linear.bias is None for linear in linears[:3]}) != 1:
            return "only some of Q, K and V have a bias"
        layer_type = getattr(attention, "layer_type", None)
        if getattr(attention, "sliding_window", None) or layer_type not in (None, "full_attention"):
            return "a layer does not attend every column"
    if len(eps) != 1:
        return "the RMSNorms do not share one epsilon"
    return None


def _eps(norm: Any) -> float | None:
    weight = getattr(norm, "weight", None)
    eps = getattr(norm, "variance_epsilon", None)
    return None if weight is None or eps is None else float(eps)


def _fuse_layer(layer: Any) -> FusedLayer:
    attention, mlp = layer.self_attn, layer.mlp
    projections = [attention.q_proj, attention.k_proj, attention.v_proj]
    qkv = _concatenate_into_views(projections, "weight")
    qkv_bias = None
    if attention.q_proj.bias is not None:
        qkv_bias = _concatenate_into_views(projections, "bias")
    gate_up = _concatenate_into_views([mlp.gate_proj, mlp.up_proj], "weight")
    heads = attention.q_proj.out_features // attention.head_dim
    kv_heads = attention.k_proj.out_features // attention.head_dim
    head_norms = torch.cat(
        (
            attention.q_norm.weight.detach().expand(heads, -1),
            attention.k_norm.weight.detach().expand(kv_heads, -1),
        )
    )
    return FusedLayer(
        input_norm=layer.input_layernorm.weight.detach(),
        qkv=qkv,
        qkv_bias=qkv_bias,
        head_norms=head_norms,
        output=attention.o_proj.weight.detach(),
        post_norm=layer.post_attention_layernorm.weight.detach(),
        gate_up=gate_up,
        down=mlp.down_proj.weight.detach(),
    )


def _concatenate_into_views(modules: list[nn.Linear], name: str) -> torch.Tensor:
    """One tensor of the modules' `name` parameters, row after row; each module's is now a view.

    The modules keep working (prefill runs them) and the weights are held once.
    """
    parts = [getattr(module, name).detach() for module in modules]
    joined = torch.cat(parts)
    start = 0
    for module, part in zip(modules, parts, strict=True):
        rows = part.shape[0]
        setattr(module, name, nn.Parameter(joined[start : start + rows], requires_grad=False))
        start += rows
    return joined


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`allowed` (True where a query may attend) as the additive mask every attention
    backend takes as it is: made once per step, where a boolean one is converted
    again by each layer's attention call."""
    bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return bias.masked_fill_(allowed.logical_not(), float("-inf"))
