"""The Impact backfill against a real PostgreSQL: weights changes converge every row and aggregate, runs cut off by
the clock continue, killed runs resume from their checkpoint, and continuations go through SQS (moto)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import boto3
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from reelrank.db.aggregate_repair import TOTALS_STEPS
from reelrank.db.backfill_jobs import JOB_LOCK_CLASS
from reelrank.errors import BackfillJobNotFoundError
from reelrank.models.backfill import BackfillContinuationRecord, BackfillRequest
from reelrank.services.backfill import (
    BackfillRunner,
    BatchReport,
    backfill_impact,
    get_backfill_job,
    sqs_continuation,
    start_backfill,
)
from reelrank.settings import BackfillSettings
from tests.integration.backfill_helpers import (
    add_weights,
    build_catalogue,
    catalogue_records,
    drift,
    ingest_records,
    stale_or_wrong_videos,
    wait_for_lock_waiters,
)

SMALL_BATCHES = BackfillSettings(BACKFILL_BATCH_SIZE=7, BACKFILL_TIME_MARGIN_MS=1000)


class Killed(BaseException):
    """Stands in for the Lambda runtime killing the invocation: not an Exception, so nothing catches it."""


def job_row(conn: psycopg.Connection[Any], job_id: int) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT status, phase, last_video_id, batches, videos_scanned FROM backfill_jobs WHERE job_id = %s", (job_id,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_after_a_weights_change_a_stale_backfill_converges_every_row_and_aggregate(db: psycopg.Connection[Any]) -> None:
    # Given 60 videos scored with version 1, then version 2 activated
    build_catalogue(db, n=60)
    version = add_weights(db)
    assert stale_or_wrong_videos(db) == 60
    # When the default (stale) backfill runs in batches of 7
    batches: list[BatchReport] = []
    response = backfill_impact(db, BackfillRequest(), settings=SMALL_BATCHES, on_batch=batches.append)
    # Then it completed over 9 batches, rescoring all 60 rows, and refreshed the aggregates
    assert (response.status, response.mode, response.weights_version) == ("completed", "stale", version)
    assert (response.videos_scanned, response.videos_updated, response.batches) == (60, 60, 9)
    assert [b.rows_scanned for b in batches] == [7] * 8 + [4]
    assert response.aggregates_updated > 0
    # And no row is stale, each score is what the new weights give, and every aggregate equals its recomputation
    assert stale_or_wrong_videos(db) == 0
    assert db.execute("SELECT DISTINCT impact_version FROM videos_hot").fetchall() == [(version,)]
    assert drift(db) == []
    # And the job row says the same as the response
    assert get_backfill_job(db, response.job_id) == response


def test_a_second_stale_backfill_has_nothing_to_do(db: psycopg.Connection[Any]) -> None:
    # Given a catalogue already backfilled to the active version
    build_catalogue(db, n=20)
    add_weights(db)
    backfill_impact(db, BackfillRequest(), settings=SMALL_BATCHES)
    # When another stale backfill runs
    response = backfill_impact(db, BackfillRequest(), settings=SMALL_BATCHES)
    # Then it skipped the scan and wrote nothing
    assert (response.status, response.videos_scanned, response.videos_updated) == ("completed", 0, 0)
    assert response.aggregates_updated == 0


def test_mode_all_repairs_wrong_scores_on_the_current_version_and_writes_only_those(
    db: psycopg.Connection[Any],
) -> None:
    # Given three videos whose score is wrong although their version is current
    build_catalogue(db, n=30)
    db.execute(
        "UPDATE videos_hot SET impact_score = impact_score + 1"
        " WHERE video_id IN (SELECT video_id FROM videos_hot ORDER BY video_id LIMIT 3)"
    )
    # When a stale backfill runs, then an "all" backfill
    stale = backfill_impact(db, BackfillRequest(mode="stale"), settings=SMALL_BATCHES)
    assert stale_or_wrong_videos(db) == 3
    full = backfill_impact(db, BackfillRequest(mode="all"), settings=SMALL_BATCHES)
    # Then the stale run saw nothing stale; the full run scanned every row and wrote exactly the three
    assert stale.videos_updated == 0
    assert (full.status, full.videos_scanned, full.videos_updated) == ("completed", 30, 3)
    assert stale_or_wrong_videos(db) == 0
    assert drift(db) == []


def test_a_run_cut_off_by_the_clock_continues_in_a_fresh_invocation_and_converges(db: psycopg.Connection[Any]) -> None:
    # Given stale rows and an invocation whose remaining time drops under the margin after 3 batches
    build_catalogue(db, n=50)
    add_weights(db)
    calls = {"n": 0}

    def remaining_ms() -> int:
        calls["n"] += 1
        return 900_000 if calls["n"] <= 3 else 500

    continued: list[int] = []
    # When it runs
    first = backfill_impact(
        db, BackfillRequest(), settings=SMALL_BATCHES, remaining_ms=remaining_ms, continue_later=continued.append
    )
    # Then it stopped cleanly after 3 batches, checkpointed, and asked for a continuation of the same job
    assert (first.status, first.batches, first.videos_scanned) == ("continuing", 3, 21)
    assert continued == [first.job_id]
    assert job_row(db, first.job_id)[:2] == ("continuing", "videos")
    assert stale_or_wrong_videos(db) == 29
    # When the continuation runs with plenty of time
    second = backfill_impact(db, BackfillRequest(job_id=first.job_id), settings=SMALL_BATCHES)
    # Then the job completes without rescanning what was done
    assert (second.job_id, second.status) == (first.job_id, "completed")
    assert (second.videos_scanned, second.videos_updated, second.batches) == (50, 50, 8)
    assert stale_or_wrong_videos(db) == 0
    assert drift(db) == []


def test_a_run_cut_off_during_the_aggregate_refresh_continues_from_the_next_step(db: psycopg.Connection[Any]) -> None:
    # Given a run whose time runs out after the videos and two aggregate steps (8 batches + empty probe + 2 steps)
    build_catalogue(db, n=50)
    add_weights(db)
    calls = {"n": 0}

    def remaining_ms() -> int:
        calls["n"] += 1
        return 900_000 if calls["n"] <= 10 else 0

    first = backfill_impact(db, BackfillRequest(), settings=SMALL_BATCHES, remaining_ms=remaining_ms)
    assert first.status == "continuing"
    steps_done = db.execute(
        "SELECT phase, aggregate_steps_done, aggregate_steps_completed FROM backfill_jobs WHERE job_id = %s",
        (first.job_id,),
    ).fetchone()
    assert steps_done == ("aggregates", 1, [TOTALS_STEPS[0].name])
    # When it continues
    second = backfill_impact(db, BackfillRequest(job_id=first.job_id), settings=SMALL_BATCHES)
    # Then it completes and every aggregate is exact
    assert second.status == "completed"
    assert drift(db) == []


def test_a_job_resumed_after_a_deploy_changed_the_step_list_runs_every_step_it_has_not_completed(
    db: psycopg.Connection[Any],
) -> None:
    # Given a job stopped in its aggregate refresh under an older step list: it completed a step since retired and
    # every current step but "creators", and its count of steps done (an index into the old list) says all but one
    build_catalogue(db, n=40)
    job = start_backfill(db)
    names = [s.name for s in TOTALS_STEPS]
    assert "creators" in names[:-1]  # not the last step: an index-based resume would skip it
    completed = sorted({*names, "retired_step"} - {"creators"})
    db.execute(
        "UPDATE backfill_jobs SET status = 'continuing', phase = 'aggregates', weights_version = active_impact_version(),"
        " aggregate_steps_done = %s, aggregate_steps_completed = %s WHERE job_id = %s",
        (len(names) - 1, completed, job.job_id),
    )
    # and the creators' totals drifted meanwhile
    db.execute("UPDATE creators_hot SET total_play_count = total_play_count + 5 WHERE creator_id = 'bo'")
    assert drift(db) == [("creators_hot", "bo")]
    # When the job is continued
    done = backfill_impact(db, BackfillRequest(job_id=job.job_id), settings=SMALL_BATCHES)
    # Then the one step it had not completed ran (and only it wrote), and every aggregate is exact
    assert (done.status, done.aggregates_updated) == ("completed", 1)
    assert drift(db) == []
    row = db.execute(
        "SELECT aggregate_steps_done, aggregate_steps_completed FROM backfill_jobs WHERE job_id = %s", (job.job_id,)
    ).fetchone()
    assert row == (len(names), sorted({*names, "retired_step"}))


def test_a_job_checkpointed_by_count_before_step_names_existed_reruns_every_step(db: psycopg.Connection[Any]) -> None:
    # Given a job checkpointed by the old count only (3 steps done, no names) and drift in the first step's tables
    build_catalogue(db, n=40)
    job = start_backfill(db)
    db.execute(
        "UPDATE backfill_jobs SET status = 'continuing', phase = 'aggregates', weights_version = active_impact_version(),"
        " aggregate_steps_done = 3 WHERE job_id = %s",
        (job.job_id,),
    )
    db.execute("UPDATE creators_hot SET videos_count = videos_count + 1 WHERE creator_id = 'ana'")
    # When it is continued
    done = backfill_impact(db, BackfillRequest(job_id=job.job_id), settings=SMALL_BATCHES)
    # Then every step ran (the count cannot say which ones were done), so nothing is left drifted
    assert done.status == "completed"
    assert drift(db) == []


def test_a_killed_run_resumes_from_its_last_checkpoint_when_invoked_again(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        build_catalogue(conn, n=50)
        add_weights(conn)

    # Given a run killed outright right after its 4th batch committed (its connection dies with it)
    def kill_after_four(report: BatchReport) -> None:
        if report.batch == 4:
            raise Killed

    conn = psycopg.connect(db_url, autocommit=True)
    with pytest.raises(Killed):
        backfill_impact(conn, BackfillRequest(), settings=SMALL_BATCHES, on_batch=kill_after_four)
    conn.close()
    with psycopg.connect(db_url, autocommit=True) as db:
        job_id = int(db.execute("SELECT max(job_id) FROM backfill_jobs").fetchone()[0])  # type: ignore[index]
        status, phase, last_video_id, batches, scanned = job_row(db, job_id)
        assert (status, phase, batches, scanned) == ("running", "videos", 4, 28)
        assert (last_video_id,) == db.execute(
            "SELECT video_id FROM videos_hot ORDER BY video_id OFFSET 27 LIMIT 1"
        ).fetchone()
        # When the function is invoked again without a job id
        seen: list[BatchReport] = []
        response = backfill_impact(db, BackfillRequest(), settings=SMALL_BATCHES, on_batch=seen.append)
        # Then it resumed the same job after the checkpoint (batch 5 on), and converged
        assert (response.job_id, response.status) == (job_id, "completed")
        assert [b.batch for b in seen] == [5, 6, 7, 8]
        assert (response.videos_scanned, response.videos_updated) == (50, 50)
        assert stale_or_wrong_videos(db) == 0
        assert drift(db) == []


def test_weights_changed_mid_run_restart_the_scan_with_the_new_version(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        build_catalogue(conn, n=40)
        add_weights(conn)
    changed: list[int] = []

    # Given an operator activating yet another version while the backfill is at batch 2
    def change_weights(report: BatchReport) -> None:
        if report.batch == 2 and not changed:
            with psycopg.connect(db_url, autocommit=True) as other:
                changed.append(add_weights(other, comments="75"))

    with psycopg.connect(db_url, autocommit=True) as conn:
        # When the backfill runs to the end
        response = backfill_impact(conn, BackfillRequest(), settings=SMALL_BATCHES, on_batch=change_weights)
        # Then it finished on the newest version: no stale row, exact aggregates
        assert response.status == "completed"
        assert response.weights_version == changed[0]
        assert stale_or_wrong_videos(conn) == 0
        assert drift(conn) == []


def test_a_batch_that_waited_for_an_ingest_chunk_carries_its_scores_to_the_facts_the_chunk_added(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        build_catalogue(conn, n=20)
        add_weights(conn)
        video, handle, tags = conn.execute(
            "SELECT v.video_id, v.creator_id, array_agg(f.hashtag) FILTER (WHERE f.hashtag IS NOT NULL)"
            " FROM videos_hot v LEFT JOIN video_hashtag_facts f USING (video_id)"
            " GROUP BY 1, 2 ORDER BY 1 LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        new_tag = next(t for t in ("fyp", "edit", "anime", "cars", "music") if t not in (tags or []))
        record = next(r for r in catalogue_records(20) if str(r["id"]) == video)
        # Given an ingest chunk re-scraping a video with the same counts and one more hashtag (so it keeps its stale
        # score and copies it to the new fact), held at the hashtag's row after it wrote the video and its facts
        holder = psycopg.connect(db_url)
        holder.execute("SELECT 1 FROM hashtags_hot WHERE hashtag = %s FOR NO KEY UPDATE", (new_tag,))
        errors: list[BaseException] = []

        def run(work: Any) -> None:
            try:
                with psycopg.connect(db_url, autocommit=True) as own:
                    work(own)
            except BaseException as exc:
                errors.append(exc)

        rescrape = {**record, "username": handle, "hashtag_names": [*(tags or []), new_tag]}
        chunk = threading.Thread(
            target=run,
            args=(lambda c: ingest_records(c, [rescrape], observed_at=datetime(2026, 11, 1, tzinfo=UTC)),),
        )
        chunk.start()
        assert wait_for_lock_waiters(conn, 1) == 1
        # When a backfill runs meanwhile: its first batch waits for the chunk's video, which then commits
        backfill = threading.Thread(
            target=run, args=(lambda c: backfill_impact(c, BackfillRequest(), settings=SMALL_BATCHES),)
        )
        backfill.start()
        assert wait_for_lock_waiters(conn, 2) == 2
        holder.rollback()
        holder.close()
        chunk.join(timeout=60)
        backfill.join(timeout=60)
        # Then the new fact carries the video's new score like the others, and every aggregate is exact
        assert errors == []
        assert conn.execute(
            "SELECT count(*) FROM video_hashtag_facts f JOIN videos_hot v USING (video_id)"
            " WHERE f.video_id = %s AND f.hashtag = %s AND f.impact_score = v.impact_score",
            (video, new_tag),
        ).fetchone() == (1,)
        assert stale_or_wrong_videos(conn) == 0
        assert drift(conn) == []


def test_a_job_another_invocation_holds_is_left_alone(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn, psycopg.connect(db_url, autocommit=True) as other:
        build_catalogue(conn, n=10)
        add_weights(conn)
        job = start_backfill(conn, "stale")
        # Given another session working on the job (holding its lock)
        other.execute("SELECT pg_advisory_lock(%s, %s)", (JOB_LOCK_CLASS, job.job_id))
        # When an invocation is asked to continue it
        response = backfill_impact(conn, BackfillRequest(job_id=job.job_id), settings=SMALL_BATCHES)
        # Then it did nothing and reported the job as it is
        assert (response.status, response.batches) == ("pending", 0)
        assert stale_or_wrong_videos(conn) == 10


def test_start_backfill_creates_one_pending_job_and_returns_it_while_unfinished(db: psycopg.Connection[Any]) -> None:
    # Given no job yet; When the API starts one, twice
    first = start_backfill(db, "all")
    again = start_backfill(db, "stale")
    # Then both calls name the same pending job, in the first call's mode
    assert (first.status, first.mode) == ("pending", "all")
    assert again == first
    assert get_backfill_job(db, first.job_id) == first
    assert get_backfill_job(db, first.job_id + 1000) is None
    # And running it completes it, after which a new request makes a new job
    assert backfill_impact(db, BackfillRequest(job_id=first.job_id), settings=SMALL_BATCHES).status == "completed"
    assert start_backfill(db, "stale").job_id != first.job_id


def test_an_unknown_job_id_is_a_domain_error(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(BackfillJobNotFoundError, match="job_id"):
        backfill_impact(db, BackfillRequest(job_id=999), settings=SMALL_BATCHES)


def test_a_failed_run_reports_failed_and_resumes_when_invoked_with_its_id(db: psycopg.Connection[Any]) -> None:
    # Given a run whose 3rd batch raises (a bug, a lost connection…)
    build_catalogue(db, n=30)
    add_weights(db)

    def fail_on_third(report: BatchReport) -> None:
        if report.batch == 3:
            raise RuntimeError("disk on fire")

    failed = backfill_impact(db, BackfillRequest(), settings=SMALL_BATCHES, on_batch=fail_on_third)
    # Then the response and the job say failed, with the error
    assert failed.status == "failed"
    assert failed.error is not None
    assert "disk on fire" in failed.error
    assert failed.batches == 3
    # When invoked again with its id, it resumes and completes
    resumed = backfill_impact(db, BackfillRequest(job_id=failed.job_id), settings=SMALL_BATCHES)
    assert (resumed.status, resumed.videos_scanned, resumed.error) == ("completed", 30, None)
    assert drift(db) == []


def test_continuations_travel_through_the_sqs_queue_and_the_runner_consumes_them(db: psycopg.Connection[Any]) -> None:
    build_catalogue(db, n=30)
    add_weights(db)
    with mock_aws():
        # Given the continuation queue (as template.yaml defines it) and a runner with a clock that runs out
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="reelrank-backfill-continuation-test")["QueueUrl"]
        ticks = {"n": 0}

        def remaining_ms() -> int:
            ticks["n"] += 1
            return 900_000 if ticks["n"] <= 2 else 0

        settings_ = BackfillSettings(BACKFILL_BATCH_SIZE=7, BACKFILL_CONTINUATION_QUEUE_URL=url)
        runner = BackfillRunner(db, settings_, remaining_ms)
        runner.continue_later = sqs_continuation(url, sqs)
        # When the first invocation is cut off
        first = runner.run(BackfillRequest())
        # Then a {"job_id"} message waits on the queue
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [json.loads(m["Body"]) for m in messages] == [{"job_id": first.job_id}]
        # When the runner consumes that message with enough time left
        record = BackfillContinuationRecord.model_validate(
            {
                "messageId": messages[0]["MessageId"],
                "receiptHandle": messages[0]["ReceiptHandle"],
                "body": messages[0]["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1700000000000",
                    "SenderId": "AIDA",
                    "ApproximateFirstReceiveTimestamp": "1700000000000",
                },
                "messageAttributes": {},
                "md5OfBody": messages[0]["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:reelrank-backfill-continuation-test",
                "awsRegion": "us-east-1",
            }
        )
        ticks["n"] = -1000
        done = runner.continue_from_record(record)
    # Then the job completed
    assert (done["job_id"], done["status"]) == (first.job_id, "completed")
    assert stale_or_wrong_videos(db) == 0
    assert drift(db) == []


@given(
    corrupt=st.lists(st.integers(0, 10_000), max_size=8),
    comments=st.decimals(min_value=0, max_value=1000, places=2),
    batch=st.sampled_from([1, 5, 64, 5000]),
)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_weights_and_corruption_converge_with_mode_all(
    db: psycopg.Connection[Any], corrupt: list[int], comments: Any, batch: int
) -> None:
    # Given a catalogue, some scores corrupted, and random new comment weights
    if db.execute("SELECT count(*) FROM videos_hot").fetchone() == (0,):
        build_catalogue(db, n=40)
    for n in corrupt:
        db.execute(
            "UPDATE videos_hot SET impact_score = impact_score + 3 WHERE video_id ="
            " (SELECT video_id FROM videos_hot ORDER BY video_id OFFSET %s LIMIT 1)",
            (n % 40,),
        )
    add_weights(db, comments=str(comments))
    # When an "all" backfill runs with any batch size
    response = backfill_impact(db, BackfillRequest(mode="all"), settings=BackfillSettings(BACKFILL_BATCH_SIZE=batch))
    # Then every row and aggregate is what the new weights give
    assert response.status == "completed"
    assert response.videos_scanned == 40
    assert stale_or_wrong_videos(db) == 0
    assert drift(db) == []
