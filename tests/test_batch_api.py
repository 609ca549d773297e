"""The Batch API path (`sitrep run --batch-api`) against the fake server's Files and Batch
endpoints: the example archive gives the records of a replayed interactive run, at batch
prices; invalid answers are re-asked in a follow-up batch or interactively; failed lines are
submitted again until their attempts are spent; custom_ids never repeat; the cost ceiling holds
articles back; a ledger from before the Batch API upgrades. The batch files' writing and reading
are tested on their own at the end. Resuming a stopped run: tests/test_batch_api_resume.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from batchapi import (
    FAST,
    MODEL,
    Killed,
    jsonl,
    output_request_ids,
    query,
    request_of,
    run_api,
    sent_batches,
    serving,
    statuses,
    synthetic_config,
)

from conftest import ARCHIVE, CASSETTES, ledger_from_before
from sitrep.extract.extractor import Extractor
from sitrep.run.batchbook import BatchBook
from sitrep.run.batchfiles import (
    BatchRequest,
    InputFile,
    InputFileWriter,
    read_result_lines,
    request_line,
)
from sitrep.run.batchrun import run_batch_api
from sitrep.run.budget import Budget, price_for
from sitrep.run.ledger import MIGRATIONS, Ledger
from sitrep.run.readers import read_archives
from sitrep.run.scheduler import BatchProgress, run_batch
from sitrep.settings import (
    BatchOptions,
    ModelConfig,
    OutputCapField,
    Price,
    ReaskRoute,
    ReaskStyle,
)
from sitrep.testing.recorded import answers_from_cassettes
from sitrep.wire.calls import NO_STATUS, Call, encode_request
from sitrep.wire.replay import AsyncReplayTransport, Recordings
from synthetic import statistic_arguments, synthetic_articles

ARTICLES = synthetic_articles(4)
RECORDINGS = CASSETTES / "archive"


def batch_price() -> Price:
    price = price_for(MODEL)
    assert price is not None
    return price.for_batch()


def without_provenance(path: Path) -> list[str]:
    records = []
    for record in jsonl(path):
        del record["provenance"]
        records.append(json.dumps(record, sort_keys=True))
    return sorted(records)


def archive_config(base_url: str | None = None) -> ModelConfig:
    """The request shape the archive's cassettes were recorded with (OpenAI's)."""
    shape = ModelConfig(
        model=MODEL,
        output_cap_field=OutputCapField.MAX_COMPLETION_TOKENS,
        reask_style=ReaskStyle.TOOL,
    )
    return shape if base_url is None else replace(shape, base_url=base_url)


# Done when: the example archive through batches gives the replayed run's records


def test_the_example_archive_through_batches_gives_the_replayed_runs_records_at_batch_prices(
    tmp_path: Path,
) -> None:
    replayed, batched = tmp_path / "replayed", tmp_path / "batched"
    asyncio.run(
        run_batch(
            read_archives([ARCHIVE]),
            archive_config(),
            api_key="test-key-never-sent",
            out_dir=replayed,
            transport=AsyncReplayTransport(Recordings(RECORDINGS)),
        )
    )
    with serving(answers_from_cassettes(RECORDINGS), duration=0.4) as server:
        config = archive_config(server.base_url)
        summary = run_api(lambda: read_archives([ARCHIVE], workers=1), config, batched)
        batches = sent_batches(server)
        server_ids = output_request_ids(server)
    articles = len(list(ARCHIVE.glob("*.txt")))
    assert (summary.summary.done, summary.summary.failed, summary.summary.stopped) == (
        articles,
        0,
        None,
    )
    assert statuses(batched) == Counter({"done": articles})
    assert jsonl(batched / "failures.jsonl") == []
    for name in ("incidents.jsonl", "statistics.jsonl"):
        assert without_provenance(batched / name) == without_provenance(replayed / name), name
        assert without_provenance(batched / name), f"{name} holds no records to compare"

    # Each record's provenance names the requests the server answered, as the ledger has them.
    calls: dict[str, set[str]] = {}
    for article_id, request_id in query(batched, "SELECT article_id, request_id FROM calls"):
        calls.setdefault(article_id, set()).add(request_id)
    for name in ("incidents.jsonl", "statistics.jsonl"):
        for record in jsonl(batched / name):
            provenance = record["provenance"]
            assert set(provenance["request_ids"]) <= server_ids
            assert set(provenance["request_ids"]) == calls[provenance["article_id"]]

    # Every call is a batch line, priced at batch prices; each article costs what its lines did.
    price = batch_price()
    batch_ids = {batch.id for batch in batches}
    rows = query(
        batched,
        "SELECT article_id, batch_id, cost, prompt_tokens, completion_tokens, cached_tokens "
        "FROM calls",
    )
    assert len(rows) == sum(len(batch.custom_ids) for batch in batches) >= articles
    by_article: Counter[str] = Counter()
    for article_id, batch_id, cost, prompt, completion, cached in rows:
        assert batch_id in batch_ids
        assert cost == pytest.approx(price.cost(prompt, completion, cached or 0))
        by_article[article_id] += cost
    for article_id, cost in query(batched, "SELECT id, cost FROM articles"):
        assert cost == pytest.approx(by_article[article_id])
    assert summary.batch_cost == pytest.approx(sum(by_article.values()))
    assert summary.summary.run.cost == pytest.approx(sum(by_article.values()))


# Re-asks of answers that fail sitrep's checks


def is_reask(body: dict[str, Any]) -> bool:
    return any(message["role"] in ("assistant", "tool") for message in body["messages"])


def misquoted(body: dict[str, Any]) -> str:
    """A statistic whose evidence is a sentence the article does not hold."""
    arguments = json.loads(statistic_arguments(body))
    arguments["statistics"][0]["evidence"] = ["Militants carried out 999 attacks in the capital."]
    return json.dumps(arguments)


def misquoted_first(body: dict[str, Any]) -> str:
    return statistic_arguments(body) if is_reask(body) else misquoted(body)


def test_an_answer_failing_its_checks_is_reasked_in_a_follow_up_batch(tmp_path: Path) -> None:
    with serving(misquoted_first) as server:
        summary = run_api(lambda: ARTICLES, synthetic_config(server), tmp_path)
        batches = sent_batches(server)
        chat_requests = server.stats().requests
    assert statuses(tmp_path) == Counter({"done": len(ARTICLES)})
    assert summary.summary.done == len(ARTICLES)
    assert chat_requests == 0
    assert [len(batch.custom_ids) for batch in batches] == [len(ARTICLES), len(ARTICLES)]
    first, follow_up = batches
    assert not any(is_reask(body) for body in first.bodies)
    assert all(is_reask(body) for body in follow_up.bodies)
    # A re-ask is another request: other custom_ids, other hashes, each its first submission.
    assert {request_of(c) for c in first.custom_ids}.isdisjoint(
        map(request_of, follow_up.custom_ids)
    )
    assert all(custom_id.endswith("-1") for custom_id in follow_up.custom_ids)
    assert [r["provenance"]["reasks"] for r in jsonl(tmp_path / "statistics.jsonl")] == [1] * 4


def test_an_article_fails_with_invalid_output_once_its_reasks_in_batches_are_spent(
    tmp_path: Path,
) -> None:
    with serving(misquoted) as server:
        summary = run_api(lambda: ARTICLES, synthetic_config(server, reask_budget=1), tmp_path)
        batches = sent_batches(server)
    assert [len(batch.custom_ids) for batch in batches] == [len(ARTICLES)] * 2
    assert summary.summary.failed == len(ARTICLES)
    kinds = query(tmp_path, "SELECT error_kind FROM articles")
    assert kinds == [("InvalidOutputError",)] * len(ARTICLES)
    failures = jsonl(tmp_path / "failures.jsonl")
    assert sorted(f["article_id"] for f in failures) == sorted(a.id for a in ARTICLES)
    assert all(f["error_kind"] == "InvalidOutputError" for f in failures)


def test_retry_failed_asks_failed_articles_afresh_never_from_their_old_answers(
    tmp_path: Path,
) -> None:
    wrong = [True]  # the server misquotes until told otherwise

    def answer(body: dict[str, Any]) -> str:
        return misquoted(body) if wrong[0] else statistic_arguments(body)

    with serving(answer) as server:
        config = synthetic_config(server, reask_budget=0)
        run_api(lambda: ARTICLES, config, tmp_path)
        assert statuses(tmp_path) == Counter({"failed": len(ARTICLES)})
        wrong[0] = False
        again = run_api(lambda: ARTICLES, config, tmp_path)  # failed stays failed unasked
        assert (again.submitted, again.summary.run.skipped) == (0, len(ARTICLES))
        retried = run_api(
            lambda: ARTICLES,
            config,
            tmp_path,
            options=BatchOptions(read_workers=1, retry_failed=True),
        )
        batches = sent_batches(server)
    # The same requests went again, as their second submissions: the misquoted answers they
    # had were not replayed, or the articles would have failed again.
    assert retried.submitted == len(ARTICLES)
    assert statuses(tmp_path) == Counter({"done": len(ARTICLES)})
    assert jsonl(tmp_path / "failures.jsonl") == []
    first, second = batches
    assert {request_of(c) for c in first.custom_ids} == {request_of(c) for c in second.custom_ids}
    assert all(c.endswith("-2") for c in second.custom_ids)
    attempts = query(tmp_path, "SELECT attempts FROM articles")
    assert attempts == [(2,)] * len(ARTICLES)


def test_retry_failed_gives_lines_that_failed_for_good_their_attempts_again(
    tmp_path: Path,
) -> None:
    broken = [True]  # every line fails until the server is mended
    with serving(fail=lambda _: broken[0]) as server:
        config = synthetic_config(server)
        run_api(lambda: ARTICLES, config, tmp_path, max_line_attempts=1)
        assert statuses(tmp_path) == Counter({"failed": len(ARTICLES)})
        broken[0] = False
        retried = run_api(
            lambda: ARTICLES,
            config,
            tmp_path,
            options=BatchOptions(read_workers=1, retry_failed=True),
            max_line_attempts=1,
        )
    assert retried.summary.run.extracted == len(ARTICLES)
    assert statuses(tmp_path) == Counter({"done": len(ARTICLES)})


def test_with_interactive_reasks_an_invalid_answer_is_asked_again_at_the_chat_endpoint(
    tmp_path: Path,
) -> None:
    with serving(misquoted_first) as server:
        run_api(lambda: ARTICLES, synthetic_config(server), tmp_path, reask=ReaskRoute.INTERACTIVE)
        batches = sent_batches(server)
        chat_requests = server.stats().requests
    assert statuses(tmp_path) == Counter({"done": len(ARTICLES)})
    assert len(batches) == 1
    assert chat_requests == len(ARTICLES)
    # The re-ask is an interactive call, at the standard price; its first answer a batch line's.
    standard = price_for(MODEL)
    assert standard is not None
    for article_id, cost in query(tmp_path, "SELECT id, cost FROM articles"):
        calls = query(
            tmp_path,
            "SELECT batch_id, cost, prompt_tokens, completion_tokens FROM calls "
            "WHERE article_id = ? ORDER BY id",
            (article_id,),
        )
        (batch_id, line_cost, _, _), (none, _, prompt, completion) = calls
        assert batch_id is not None
        assert none is None
        assert cost == pytest.approx(line_cost + standard.cost(prompt, completion))


def test_a_malformed_answer_in_a_batch_is_reasked_until_its_budget_is_spent(tmp_path: Path) -> None:
    with serving(malformed_share=1.0) as server:
        summary = run_api(lambda: ARTICLES, synthetic_config(server, reask_budget=1), tmp_path)
        batches = sent_batches(server)
    assert [len(batch.custom_ids) for batch in batches] == [len(ARTICLES)] * 2
    assert all(is_reask(body) for body in batches[1].bodies)
    assert summary.summary.failed == len(ARTICLES)
    for kind, error in query(tmp_path, "SELECT error_kind, error FROM articles"):
        assert kind == "InvalidOutputError"
        assert "Invalid JSON" in error


# Failed lines


def test_lines_that_always_fail_are_resubmitted_until_their_attempts_are_spent(
    tmp_path: Path,
) -> None:
    with serving(failed_share=1.0) as server:
        summary = run_api(lambda: ARTICLES, synthetic_config(server), tmp_path, max_line_attempts=2)
        batches = sent_batches(server)
    assert [batch.status for batch in batches] == ["completed", "completed"]
    jobs = query(tmp_path, "SELECT output_file_id, error_file_id FROM batch_jobs")
    assert [(output, error is not None) for output, error in jobs] == [(None, True)] * 2
    assert Counter(request_of(c) for b in batches for c in b.custom_ids).most_common()[-1][1] == 2
    assert summary.summary.failed == len(ARTICLES)
    failures = jsonl(tmp_path / "failures.jsonl")
    assert sorted(f["article_id"] for f in failures) == sorted(a.id for a in ARTICLES)
    for failure in failures:
        assert failure["error_kind"] == "TransportError"
        assert "batch line failed 2 times" in failure["reason"]
        # The line's own error, as the server wrote it in the error file.
        assert "server_error" in failure["reason"] or "rate_limit_exceeded" in failure["reason"]


def test_requests_no_batch_ever_runs_fail_once_their_submissions_are_spent(
    tmp_path: Path,
) -> None:
    with serving(expire=True, expire_finished=0.0) as server:
        summary = run_api(
            lambda: ARTICLES,
            synthetic_config(server),
            tmp_path,
            max_line_attempts=1,
            max_submissions=2,
        )
        batches = sent_batches(server)
    assert [batch.status for batch in batches] == ["expired", "expired"]
    assert summary.summary.failed == len(ARTICLES)
    for failure in jsonl(tmp_path / "failures.jsonl"):
        assert failure["error_kind"] == "TransportError"
        assert "submitted 2 times and never answered" in failure["reason"]
        assert "batch_expired" in failure["reason"]


def test_a_batch_failing_validation_fails_its_articles_with_the_servers_reason(
    tmp_path: Path,
) -> None:
    # The server takes two lines a file; sitrep was told it takes more.
    with serving(max_requests=2) as server:
        summary = run_api(lambda: ARTICLES, synthetic_config(server), tmp_path, max_line_attempts=2)
        batches = sent_batches(server)
    assert [batch.status for batch in batches] == ["failed", "failed"]
    assert summary.summary.failed == len(ARTICLES)
    for (reason,) in query(tmp_path, "SELECT error FROM articles"):
        assert "the batch failed validation" in reason
        assert "the limit is 2" in reason


def test_requests_over_the_files_limit_go_in_several_batches_and_all_are_done(
    tmp_path: Path,
) -> None:
    with serving(max_requests=2) as server:
        run_api(lambda: ARTICLES, synthetic_config(server), tmp_path, max_requests_per_file=2)
        batches = sent_batches(server)
    assert [(batch.status, len(batch.custom_ids)) for batch in batches] == [("completed", 2)] * 2
    assert statuses(tmp_path) == Counter({"done": len(ARTICLES)})


def fails_first_submission(custom_id: str) -> bool:
    return custom_id.endswith("-1")


def test_lines_that_fail_once_are_resubmitted_and_their_articles_done(tmp_path: Path) -> None:
    with serving(fail=fails_first_submission) as server:
        summary = run_api(lambda: ARTICLES, synthetic_config(server), tmp_path)
        batches = sent_batches(server)
    assert statuses(tmp_path) == Counter({"done": len(ARTICLES)})
    assert summary.summary.failed == 0
    assert len(batches) == 2
    first, again = batches
    assert sorted(map(request_of, first.custom_ids)) == sorted(map(request_of, again.custom_ids))
    assert all(custom_id.endswith("-2") for custom_id in again.custom_ids)
    assert jsonl(tmp_path / "failures.jsonl") == []


def test_custom_ids_are_unique_in_every_file_and_across_all_files_sent(tmp_path: Path) -> None:
    # Every first submission fails, every first answer is invalid: four rounds of batches,
    # resubmissions and re-asks together.
    with serving(misquoted_first, fail=fails_first_submission) as server:
        run_api(lambda: ARTICLES, synthetic_config(server), tmp_path)
        batches = sent_batches(server)
    assert statuses(tmp_path) == Counter({"done": len(ARTICLES)})
    assert len(batches) == 4
    for batch in batches:
        assert len(batch.custom_ids) == len(set(batch.custom_ids))
    sent = [custom_id for batch in batches for custom_id in batch.custom_ids]
    assert len(sent) == len(set(sent)) == 4 * len(ARTICLES)
    # Each request went twice: first as -1, then, resubmitted, as -2.
    submissions: dict[str, list[str]] = {}
    for custom_id in sent:
        submissions.setdefault(request_of(custom_id), []).append(custom_id.rpartition("-")[2])
    assert set(map(tuple, submissions.values())) == {("1", "2")}


# The cost ceiling


def batch_estimate(config: ModelConfig, options: BatchOptions) -> float:
    """What the run expects one synthetic article to cost at batch prices."""
    extractor = Extractor(config, api_key="test-key-never-sent")
    budget = Budget(
        batch_price(),
        max_cost=None,
        expected_output_tokens=min(options.expected_output_tokens, config.max_output_tokens),
        fixed_request_chars=extractor.requests.fixed_chars,
        chunks=extractor.chunks,
    )
    return budget.estimate(ARTICLES[0])


def test_the_cost_ceiling_leaves_articles_past_it_pending(tmp_path: Path) -> None:
    with serving() as server:
        config = synthetic_config(server)
        estimate = batch_estimate(config, BatchOptions())
        options = BatchOptions(read_workers=1, max_cost=estimate * 1.05)
        summary = run_api(lambda: ARTICLES, config, tmp_path, options=options)
        batches = sent_batches(server)
    assert summary.summary.stopped == "cost ceiling"
    # One article fits under the ceiling; what it cost plus the next one's estimate does not.
    assert (summary.summary.done, summary.summary.pending) == (1, len(ARTICLES) - 1)
    assert [len(batch.custom_ids) for batch in batches] == [1]
    assert statuses(tmp_path) == Counter({"done": 1, "pending": len(ARTICLES) - 1})
    assert summary.batch_cost <= estimate * 1.05


# The ledger's migration


def test_a_ledger_from_before_the_batch_api_gains_its_tables_and_keeps_its_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgraded = ledger_from_before("0009_batch_api", tmp_path, monkeypatch)
    try:
        assert upgraded.migrations() == [name for name, _ in MIGRATIONS]
        upgraded.log_call(
            Call("a1", "new", 200, 0.0, 5000, 100, None, b"{}", batch_id="batch_1", cost=0.5)
        )
        calls = upgraded.calls_for("a1")
        assert [(c.request_hash, c.batch_id, c.cost) for c in calls] == [
            ("old", None, None),
            ("new", "batch_1", 0.5),
        ]
        book = BatchBook(upgraded)
        assert book.jobs() == []
        assert book.next_custom_id("f" * 64) == "f" * 20 + "-1"
        assert (book.waiting(), book.spent()) == (0, 0.0)
    finally:
        upgraded.close()


# Batch files: written within the limits, read as the API writes them


def request(number: int, size: int = 10) -> BatchRequest:
    body = encode_request({"model": MODEL, "messages": [{"role": "user", "content": "x" * size}]})
    return BatchRequest(f"{number:020x}-1", f"{number:064x}", f"article-{number}", body)


def write_input_files(
    directory: Path,
    requests: list[BatchRequest],
    *,
    max_requests: int,
    max_bytes: int,
    name: str,
) -> list[InputFile]:
    """Every file `InputFileWriter` closes while taking `requests`, and the last."""
    writer = InputFileWriter(directory, name=name, max_requests=max_requests, max_bytes=max_bytes)
    files = [file for request in requests if (file := writer.add(request)) is not None]
    if (last := writer.close()) is not None:
        files.append(last)
    return files


def test_input_files_split_at_the_request_limit(tmp_path: Path) -> None:
    requests = [request(n) for n in range(7)]
    files = list(write_input_files(tmp_path, requests, max_requests=3, max_bytes=10**6, name="b"))
    assert [len(file.requests) for file in files] == [3, 3, 1]
    assert [r for file in files for r in file.requests] == requests
    assert [len(file.path.read_bytes().splitlines()) for file in files] == [3, 3, 1]


def test_input_files_split_at_the_byte_limit_and_never_pass_it(tmp_path: Path) -> None:
    requests = [request(n, size=50 + 10 * n) for n in range(9)]
    limit = 600
    files = list(write_input_files(tmp_path, requests, max_requests=100, max_bytes=limit, name="b"))
    assert len(files) > 1
    for file in files:
        content = file.path.read_bytes()
        assert len(content) == file.size <= limit
    assert [r for file in files for r in file.requests] == requests
    # Each file is as full as the limit lets it be: the next request would not have fitted.
    for file, following in itertools.pairwise(files):
        assert file.size + len(request_line(following.requests[0])) > limit


def test_every_input_line_carries_its_body_bytes_as_encoded(tmp_path: Path) -> None:
    requests = [request(n) for n in range(3)]
    (file,) = write_input_files(tmp_path, requests, max_requests=10, max_bytes=10**6, name="b")
    for line, sent in zip(file.path.read_bytes().splitlines(), requests, strict=True):
        parsed = json.loads(line)
        assert (parsed["custom_id"], parsed["method"], parsed["url"]) == (
            sent.custom_id,
            "POST",
            "/v1/chat/completions",
        )
        assert encode_request(parsed["body"]) == sent.body
        assert line.endswith(b'"body":' + sent.body + b"}")


def test_a_request_larger_than_a_whole_file_raises(tmp_path: Path) -> None:
    big = request(1, size=2000)
    with pytest.raises(ValueError, match="over the batch file limit"):
        list(write_input_files(tmp_path, [big], max_requests=10, max_bytes=1000, name="b"))


def result(custom_id: str, response: Any, error: Any = None) -> bytes:
    line = {"id": "r", "custom_id": custom_id, "response": response, "error": error}
    return json.dumps(line).encode()


def test_result_lines_are_read_as_answers_failures_and_lines_never_run() -> None:
    completion = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 1}}
    server_error = {"error": {"message": "server broke", "type": "server_error", "code": None}}
    content = b"\n".join(
        [
            result("a-1", {"status_code": 200, "request_id": "req_a", "body": completion}),
            result("b-1", {"status_code": 500, "request_id": "req_b", "body": server_error}),
            result("c-1", None, {"code": "batch_expired", "message": "not run in time"}),
            b"",
        ]
    )
    (answered, failed, expired), problems = read_result_lines(content)
    assert problems == []
    assert answered.answered
    assert answered.status == 200
    assert answered.body == encode_request(completion)
    assert (answered.request_id, answered.error) == ("req_a", None)
    assert not failed.answered
    assert failed.status == 500
    assert failed.error == "server_error: server broke"
    assert not expired.answered
    assert expired.status == NO_STATUS
    assert expired.body is None
    assert expired.error == "batch_expired: not run in time"


@pytest.mark.parametrize(
    "line",
    [
        b"not json at all",
        b'{"response": {"status_code": 200, "body": {}}}',  # no custom_id
        b'{"custom_id": "a-1", "response": {"status_code": "200", "body": {}}}',
        b"[1, 2]",
    ],
)
def test_an_unreadable_result_line_is_reported_as_a_problem_not_guessed_at(line: bytes) -> None:
    good = result("a-1", {"status_code": 200, "request_id": "r", "body": {"id": "x"}})
    lines, problems = read_result_lines(good + b"\n" + line + b"\n")
    assert [found.custom_id for found in lines] == ["a-1"]
    assert len(problems) == 1
    assert problems[0].startswith("line 2:")


# The ledger's atomic writes, which every batch step goes through


def half_written(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.write("INSERT INTO skipped_inputs VALUES ('b', 'kind', 'now')")
        ledger.log_call(Call("a1", "h2", 200, 1.0, 1, 1, None, b"{}"))
        raise Killed("before the step was done")


@pytest.mark.parametrize("interval", [0.0, 0.001])
def test_atomic_writes_land_together_even_when_each_write_would_commit(
    tmp_path: Path, interval: float
) -> None:
    # With no grouping (as `sitrep batches` opens the ledger), or a group older than its
    # interval, a write inside `atomic` must not commit the transaction the savepoint is in.
    ledger = Ledger.open(tmp_path, commit_interval=interval)
    try:
        with ledger.atomic():
            ledger.write("INSERT INTO skipped_inputs VALUES ('a', 'kind', 'now')")
            time.sleep(2 * interval)
            ledger.log_call(Call("a1", "h1", 200, 1.0, 1, 1, None, b"{}"))
        with pytest.raises(Killed):
            half_written(ledger)
    finally:
        ledger.close()
    assert query(tmp_path, "SELECT location FROM skipped_inputs") == [("a",)]
    assert query(tmp_path, "SELECT request_hash FROM calls") == [("h1",)]


def test_progress_is_reported_while_batches_run_with_the_articles_waiting_on_them(
    tmp_path: Path,
) -> None:
    reports: list[BatchProgress] = []
    with serving(duration=0.6) as server:
        asyncio.run(
            run_batch_api(
                lambda: ARTICLES,
                synthetic_config(server),
                api_key="test-key-never-sent",
                out_dir=tmp_path,
                options=BatchOptions(read_workers=1),
                batch=FAST,
                on_progress=reports.append,
            )
        )
    waiting = [r for r in reports if r.extracted == 0]
    assert waiting, "no sign of life while the batch ran"
    assert {r.in_flight for r in waiting} == {len(ARTICLES)}
    assert reports[-1].extracted == len(ARTICLES)
