"""The run's summary: exact figures per category, JSON that round-trips, HTML that escapes."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from bot.evaluation.cases import EvalCase, load_set
from bot.evaluation.command import ProgressBar
from bot.evaluation.legibility import legibility, qwen3_vl_rule
from bot.evaluation.reporting import (
    OVERALL,
    html_report,
    legibility_split,
    summarise,
    table,
    to_json,
)
from bot.evaluation.running import CaseResult
from bot.evaluation.scoring import score


def _case(case_id: str) -> EvalCase:
    return next(case for case in load_set().cases if case.id == case_id)


def _result(
    case_id: str, answer: str, *, seconds: float = 1.0, error: str | None = None
) -> CaseResult:
    case = _case(case_id)
    rendered = load_set().rendered[case_id]
    seen = legibility(
        qwen3_vl_rule(1280 * 1024),
        width=rendered.width,
        height=rendered.height,
        smallest_line_px=rendered.smallest_line_px,
    )
    if error is not None:
        return CaseResult(case, rendered.file, seen, error=error)
    return CaseResult(
        case,
        rendered.file,
        seen,
        answer=answer,
        score=score(case, answer),
        first_piece_seconds=seconds / 2,
        seconds=seconds,
        turns=1,
    )


RIGHT = "The requests package is not installed.\n1. Run `pip install requests`."
LEAKY = "Redis refused the connection, password pelican-Qz7-42.\n1. Start redis."


def test_the_summary_counts_each_measure_per_category_and_overall() -> None:
    results = [
        _result("py-module-not-found", RIGHT, seconds=2.0),
        _result("py-db-password-leak", LEAKY, seconds=4.0),
        _result("go-deadlock", "", error="EngineBusy: the line is full"),
    ]
    rows = {row.name: row for row in summarise(results)}
    assert list(rows) == ["python", "go", OVERALL]
    python = rows["python"]
    assert (python.cases, python.cause, python.fix, python.language, python.format) == (
        2, 2, 2, 2, 2,
    )  # fmt: skip
    assert (python.with_secret, python.leaks, python.failed) == (1, 1, 0)
    assert python.median_seconds == 3.0
    go = rows["go"]
    assert (go.cases, go.failed, go.cause, go.too_small) == (1, 1, 0, 1)
    overall = rows[OVERALL]
    assert (overall.cases, overall.cause, overall.failed, overall.leaks) == (3, 2, 1, 1)
    lines = table(summarise(results)).splitlines()
    assert lines[-1].split() == [
        "overall", "3", "67%", "67%", "67%", "67%", "1/1", "0/0", "1", "3.0", "4.0", "1.5", "1",
    ]  # fmt: skip
    assert "cause right where text is under 10 px after the resize: 0/1 (0%)" in legibility_split(
        results
    )


def test_the_json_holds_every_case_and_the_meta() -> None:
    results = [_result("py-module-not-found", RIGHT), _result("go-deadlock", "", error="boom")]
    document = json.loads(to_json(results, summarise(results), {"model": "m"}))
    assert document["meta"] == {"model": "m"}
    assert [case["id"] for case in document["cases"]] == ["py-module-not-found", "go-deadlock"]
    assert document["cases"][0]["cause"] is True and document["cases"][1]["error"] == "boom"
    assert document["cases"][1]["legibility"]["too_small"] is True


@given(st.text())
def test_the_html_report_escapes_whatever_the_model_said(answer: str) -> None:
    hostile = answer + "<script>alert(1)</script><img src=x onerror=alert(2)>"
    results = [_result("py-module-not-found", hostile)]
    page = html_report(results, summarise(results), {"model": "<b>m</b>"}, images="images")
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_the_progress_bar_writes_a_line_per_case_off_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    case = _case("py-module-not-found")
    for done in range(3):
        bar(done, 2, case)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[..........] 0/2") and lines[0].endswith(case.id)
    assert lines[2].startswith("[##########] 2/2") and lines[2].endswith("done")


def test_the_answer_is_shown_formatted_and_the_settings_as_a_table() -> None:
    answer = (
        "**Cause:** the `requests` package is missing.\n\n"
        "1. Run:\n\n```\npip install requests\n```\n"
        "2. See [the docs](javascript:alert(1)) and ![x](http://tracker.example/p.png)\n"
    )
    results = [_result("py-module-not-found", answer)]
    meta: dict[str, object] = {"engine": "local", "model": "m<1>", "resize": {"source": "Qwen3"}}
    page = html_report(results, summarise(results), meta, images="images")
    assert "<strong>Cause:</strong>" in page and "<code>requests</code>" in page
    assert "<ol>" in page and "<pre><code>pip install requests\n</code></pre>" in page
    # markdown-it refuses javascript: links; images are off, so nothing is fetched.
    assert 'href="javascript:' not in page
    assert 'src="http://tracker.example' not in page
    assert "<tr><th>model</th><td>m&lt;1&gt;</td></tr>" in page
    assert "<tr><th>resize.source</th><td>Qwen3</td></tr>" in page
    assert "overflow-wrap:anywhere" in page  # long unbroken lines wrap, no sideways scroll


class _Attributes(HTMLParser):
    """Every tag and attribute of a page, as a browser's parser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def _parsed(page: str) -> _Attributes:
    parser = _Attributes()
    parser.feed(page)
    return parser


# Browsers drop ASCII tab and newline anywhere in a URL and leading C0 controls and
# spaces (https://url.spec.whatwg.org/#concept-basic-url-parser), then match the scheme
# in any case: the forms a link must not take once they are gone.
_DANGEROUS = re.compile(r"^(javascript|vbscript|data|file):")


def _scheme_as_a_browser_reads_it(url: str) -> str:
    return re.sub(r"[\t\n\r]", "", url).lstrip("\x00- ").lower()


HOSTILE_LINKS = (
    "[a](javascript:alert(1))",
    "[a](JaVaScRiPt:alert(1))",
    "[a](javascript&#58;alert(1))",
    "[a](&#x6A;avascript:alert(1))",
    "[a](<java&#9;script:alert(1)>)",
    "[a](<java&#10;script:alert(1)>)",
    "[a]( \x01javascript:alert(1))",
    "<javascript:alert(1)>",
    "[a][r]\n\n[r]: javascript:alert(1)",
    "[a](vbscript:msgbox(1))",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[a](file:///etc/passwd)",
    '[a](http://x "t" onmouseover="alert(1)")',
    '[a](http://x "\\" onmouseover=alert(1) x=\\"")',
    "<a href=javascript:alert(1)>a</a>",
    '<p onclick="alert(1)">a</p>',
    "![a](http://tracker.example/p.png)",
)


@given(
    st.lists(st.sampled_from(HOSTILE_LINKS), min_size=1, max_size=4),
    st.text(max_size=40),
)
def test_no_link_the_model_writes_can_run_script_or_fetch_anything(
    links: list[str], noise: str
) -> None:
    answer = noise.join(links)
    results = [_result("py-module-not-found", answer)]
    page = html_report(results, summarise(results), {}, images="images")
    parsed = _parsed(page)
    for name, value in parsed.attributes:
        assert not name.startswith("on"), (name, value)
        if name in {"href", "src"}:
            assert not _DANGEROUS.match(_scheme_as_a_browser_reads_it(value)), value
    # The only image is the case's own screenshot, from the images folder.
    assert [v for n, v in parsed.attributes if n == "src"] == [f"images/{results[0].image}"]
    assert "script" not in parsed.tags
