"""The answer side of the knowledge eval: how often answers cite, and cite the right document.

Each knowledge case is asked through the real `Diagnoser`, with the shipped sample
knowledge base as its retriever. An answer's `[n]` markers are mapped to the
passages its prompt held (numbered from 1, as the prompt numbers them); the answer
cites the right document when one of the cited passages comes from the case's
document. Beside that: how often that document was in the prompt at all, so a
wrong citation can be told from a retrieval miss. Retrieval's own model-independent
scores stay in `knowledge_eval`.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.conversation.diagnosis import Diagnoser, Diagnosis
from bot.conversation.turns import ThreadKey, Turn
from bot.evaluation.knowledge_eval import KnowledgeCase, build_sample_index
from bot.knowledge.citations import cited
from bot.knowledge.embedding import Embedder
from bot.knowledge.index import Floor
from bot.knowledge.passages import Passage
from bot.knowledge.retrieval import IndexRetriever

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CitedAnswer:
    """One knowledge case's answer: what its prompt held and what the answer cites."""

    case: str
    expected: str  # the document the case needs
    given: tuple[str, ...]  # each passage's document, in the prompt's numbering
    citations: tuple[int, ...]  # the passage numbers the answer's own words cite
    answer: str = ""
    seconds: float = 0.0
    error: str | None = None

    @property
    def cited_documents(self) -> tuple[str, ...]:
        """The documents the cited passages come from, each once, in citation order."""
        return tuple(dict.fromkeys(self.given[number - 1] for number in self.citations))

    @property
    def cites(self) -> bool:
        return bool(self.citations)

    @property
    def cites_right(self) -> bool:
        return self.expected in self.cited_documents

    @property
    def right_given(self) -> bool:
        return self.expected in self.given


def cited_answer(
    case: KnowledgeCase, answer: str, passages: Sequence[Passage], *, seconds: float = 0.0
) -> CitedAnswer:
    """Scores the model's own words `answer` (before the sources list) against the
    passages its prompt held.

    Example:
        >>> cited_answer(case, "Renew the token [2].", passages).cites_right
        True
    """
    return CitedAnswer(
        case=case.id,
        expected=case.document,
        given=tuple(passage.document for passage in passages),
        citations=cited(answer, passages),
        answer=answer,
        seconds=seconds,
    )


@dataclass(frozen=True)
class CitationScores:
    """Shares over the cases asked; a case with no answer counts against every share."""

    cases: int
    failed: int
    cite_rate: float  # answers citing at least one passage
    right_citation_rate: float  # answers citing a passage of the case's document
    right_given_rate: float  # prompts holding a passage of the case's document
    right_when_given: float | None  # right citations among prompts that held it


def summarise_citations(answers: Sequence[CitedAnswer]) -> CitationScores:
    total = len(answers) or 1
    answered = [a for a in answers if a.error is None]
    given = [a for a in answered if a.right_given]
    return CitationScores(
        cases=len(answers),
        failed=len(answers) - len(answered),
        cite_rate=sum(a.cites for a in answered) / total,
        right_citation_rate=sum(a.cites_right for a in answered) / total,
        right_given_rate=len(given) / total,
        right_when_given=sum(a.cites_right for a in given) / len(given) if given else None,
    )


def citation_table(scores: CitationScores) -> str:
    """The answer-side scores as a Markdown table."""
    when = "—" if scores.right_when_given is None else f"{scores.right_when_given:.3f}"
    return "\n".join(
        [
            "| answers | failed | cite | cite the right document | right document in prompt "
            "| right citation when in prompt |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {scores.cases} | {scores.failed} | {scores.cite_rate:.3f} | "
            f"{scores.right_citation_rate:.3f} | {scores.right_given_rate:.3f} | {when} |",
        ]
    )


async def _ask(diagnoser: Diagnoser, case: KnowledgeCase) -> CitedAnswer:
    started = time.perf_counter()
    # A public channel of its own per case: every document of the sample set is for everyone.
    turn = Turn(
        thread=ThreadKey("eval", "knowledge", case.id),
        user_id="eval",
        text=case.question,
        message_ts="1",
    )
    async for event in diagnoser.diagnose(turn):
        if isinstance(event, Diagnosis):
            given = tuple(passage.document for passage in event.passages)
            return CitedAnswer(
                case.id,
                case.document,
                given,
                event.citations,
                event.answer,
                time.perf_counter() - started,
            )
    raise RuntimeError("the diagnosis ended without an answer")


async def ask_knowledge_cases(
    diagnoser: Diagnoser,
    cases: Sequence[KnowledgeCase],
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[CitedAnswer]:
    """Every case in order through `diagnoser` (whose retriever holds the sample set)."""
    answers: list[CitedAnswer] = []
    for done, case in enumerate(cases):
        if progress is not None:
            progress(done, len(cases), case.id)
        try:
            answers.append(await _ask(diagnoser, case))
        except Exception as error:  # one case failing must not end the run; it is reported
            log.exception("knowledge eval case %s failed", case.id)
            answers.append(
                CitedAnswer(
                    case.id, case.document, (), (), error=f"{type(error).__name__}: {error}"
                )
            )
    if progress is not None and cases:
        progress(len(cases), len(cases), cases[-1].id)
    return answers


@asynccontextmanager
async def sample_retriever(
    embedder: Embedder | None, *, min_similarity: float
) -> AsyncIterator[IndexRetriever]:
    """A retriever over the shipped sample knowledge base, indexed afresh for this run,
    with the floor a deployed bot uses (`KNOWLEDGE_MIN_SIMILARITY`)."""
    with tempfile.TemporaryDirectory(prefix="supportbot-eval-kb-") as folder:
        index = await build_sample_index(Path(folder) / "sample.db", embedder=embedder)
        try:
            yield IndexRetriever(index, floor=Floor(similarity=min_similarity))
        finally:
            index.close()
