"""The advisory lock classes of the layer: each kind of holder has its own, so none waits for an unrelated one."""

from __future__ import annotations

from reelrank.db.backfill_jobs import JOB_LOCK_CLASS
from reelrank.db.ingest_writes import VIDEO_LOCK_CLASS
from reelrank.db.tracking import TRACKING_LOCK_CLASS


def test_ingest_buckets_the_tracking_run_and_backfill_jobs_lock_in_classes_of_their_own() -> None:
    # The tracking run locks (class, 0) and a job (class, job_id): in one class, a job numbered 0 would take the
    # tracking run's lock, and the ingest buckets (class, 0..63) those of jobs 0..63
    classes = [VIDEO_LOCK_CLASS, TRACKING_LOCK_CLASS, JOB_LOCK_CLASS]
    assert len(set(classes)) == len(classes)
