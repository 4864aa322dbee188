"""Every metric supportbot exports, declared once: name, type, labels and help.

Call sites name a metric by its entry here (`metrics.count(ANSWERS, outcome=…)`);
the engine, which imports nothing of the bot, reports by name, and the name must
be one of these. `deploy/grafana-dashboard.json` plots only what is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Seconds, from a fast ack to a long generation.
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Counts (batch sizes, reused tokens): powers of two.
COUNTS = tuple(float(2**power) for power in range(17))
# Rates (tokens per second), from a loaded CPU to a fast GPU.
RATES = (1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000)


class MetricKind(StrEnum):
    COUNTER = "counter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"


@dataclass(frozen=True)
class MetricSpec:
    """One exported metric. Counters are named with their `_total` suffix, as exposed."""

    name: str
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = SECONDS


def _counter(name: str, help: str, *labels: str) -> MetricSpec:
    return MetricSpec(name, MetricKind.COUNTER, help, labels)


def _histogram(name: str, help: str, buckets: tuple[float, ...] = SECONDS) -> MetricSpec:
    return MetricSpec(name, MetricKind.HISTOGRAM, help, buckets=buckets)


def _gauge(name: str, help: str) -> MetricSpec:
    return MetricSpec(name, MetricKind.GAUGE, help)


# Slack
SLACK_REQUESTS = _counter(
    "supportbot_slack_requests_total", "Slack HTTP requests answered, by status", "status"
)
SLACK_ACK_SECONDS = _histogram(
    "supportbot_slack_ack_seconds", "Seconds from a Slack request arriving to its ack"
)
SLACK_API_ERRORS = _counter(
    "supportbot_slack_api_errors_total", "Slack Web API 429 and 5xx answers, by status", "status"
)
ANSWERS = _counter("supportbot_answers_total", "Slack questions ended, by outcome", "outcome")
RATE_LIMITED = _counter("supportbot_rate_limited_total", "Questions refused by a rate limit")
FEEDBACK = _counter("supportbot_feedback_total", "Feedback buttons pressed, by verdict", "verdict")
ESCALATIONS = _counter(
    "supportbot_escalations_total", "Escalation steps (escalated, taken, resolved…)", "event"
)

# Helpdesks
WEBHOOKS = _counter(
    "supportbot_webhooks_total",
    "Helpdesk deliveries, by provider and outcome",
    "provider",
    "outcome",
)
WEBHOOKS_UNREADABLE = _counter(
    "supportbot_webhooks_unreadable_total",
    "Helpdesk deliveries for the bot refused because their body could not be read, by provider",
    "provider",
)
HELPDESK_JOBS = _counter(
    "supportbot_helpdesk_jobs_total",
    "Helpdesk jobs ended, by provider and outcome (done, dead_lettered)",
    "provider",
    "outcome",
)
HELPDESK_RETRIES = _counter(
    "supportbot_helpdesk_job_retries_total",
    "Helpdesk job attempts that failed and will be tried again, by provider",
    "provider",
)
HELPDESK_TAKEN_OVER = _counter(
    "supportbot_helpdesk_jobs_taken_over_total",
    "Helpdesk jobs taken over from a replica whose lease ran out, by provider",
    "provider",
)
HELPDESK_LEASE_RENEWALS_FAILED = _counter(
    "supportbot_helpdesk_lease_renewals_failed_total",
    "Helpdesk job lease renewals that failed, by reason (lost: taken over; error: Redis)",
    "reason",
)

# Stores and safety
REDIS_ERRORS = _counter(
    "supportbot_redis_errors_total", "Redis calls that failed, by operation", "operation"
)
REDACTIONS = _counter(
    "supportbot_redactions_total", "Secrets and personal data redacted, by kind", "kind"
)

# Engine
ENGINE_QUEUE_DEPTH = _gauge(
    "supportbot_engine_queue_depth", "Requests waiting for the model or using it"
)
ENGINE_QUEUE_WAIT_SECONDS = _histogram(
    "supportbot_engine_queue_wait_seconds", "Seconds a request waited before the model took it"
)
ENGINE_TTFT_SECONDS = _histogram(
    "supportbot_engine_ttft_seconds", "Seconds from the model taking a request to its first text"
)
ENGINE_TOKENS_PER_SECOND = _histogram(
    "supportbot_engine_tokens_per_second", "Output tokens per second of one answer", RATES
)
ENGINE_BATCH_SIZE = _histogram(
    "supportbot_engine_batch_size", "Requests in one decode step", COUNTS
)
ENGINE_PREFIX_REUSED_TOKENS = _histogram(
    "supportbot_engine_prefix_reused_tokens",
    "Prompt tokens a follow-up took from its thread's cache",
    COUNTS,
)
ENGINE_REUSED_IMAGE_ENCODINGS = _histogram(
    "supportbot_engine_reused_image_encodings",
    "Screenshots in one prefill whose vision encoding came from the encoder cache",
    COUNTS,
)
ENGINE_IMAGES_ENCODED_AHEAD = _histogram(
    "supportbot_engine_images_encoded_ahead",
    "Screenshots of one request encoded on an encoder thread before it was admitted "
    "(not those it shared with another request)",
    COUNTS,
)
ENGINE_PREFILL_CHUNK_TOKENS = _histogram(
    "supportbot_engine_prefill_chunk_tokens",
    "Prompt tokens in one chunk of a prefill split so running answers keep decoding",
    COUNTS,
)
ENGINE_PREFIX_CACHE_BYTES = _gauge(
    "supportbot_engine_prefix_cache_bytes",
    "Bytes of threads' computed prompts kept for their follow-ups",
)
ENGINE_DECODE_CACHE_BYTES = _gauge(
    "supportbot_engine_decode_cache_bytes", "Bytes of the running answers' key/value slots"
)
GPU_MEMORY_BYTES = _gauge("supportbot_gpu_memory_bytes", "GPU memory PyTorch holds")

# Knowledge
KNOWLEDGE_SYNC_SECONDS = _histogram(
    "supportbot_knowledge_sync_seconds", "Time one knowledge source took to sync"
)
KNOWLEDGE_SYNCS = _counter(
    "supportbot_knowledge_syncs_total", "Knowledge source syncs, by outcome", "outcome"
)
KNOWLEDGE_DOCUMENTS = _gauge(
    "supportbot_knowledge_documents", "Documents in the knowledge index, all sources"
)
KNOWLEDGE_RETRIEVAL_SECONDS = _histogram(
    "supportbot_knowledge_retrieval_seconds", "Time one knowledge search took"
)
KNOWLEDGE_UNMATCHED = _counter(
    "supportbot_knowledge_unmatched_total", "Questions for which no knowledge passage matched"
)

CATALOGUE: tuple[MetricSpec, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, MetricSpec)
)
BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOGUE}
