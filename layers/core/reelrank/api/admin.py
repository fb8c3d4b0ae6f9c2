"""``/admin``: start or read the work of the other functions. API Gateway guards these routes with AWS_IAM
(template.yaml); ``reelrank serve`` stands in with a bearer token."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from reelrank.api.params import error_response
from reelrank.db.connection import get_connection
from reelrank.models.api import BackfillStartRequest, IngestionDetail
from reelrank.models.backfill import BackfillResponse
from reelrank.models.ingest import DirectRecordsEvent, IngestResponse, ObjectEvent
from reelrank.models.view_tracking import TrackingJobOut, ViewTrackingRunRequest, ViewTrackingStats
from reelrank.models.weights import ImpactWeightsRequest, ImpactWeightsResponse
from reelrank.services import admin
from reelrank.services.view_tracking import view_tracking_stats
from reelrank.services.weights import set_impact_weights
from reelrank.settings import get_api_settings, get_view_tracking_settings

router = Router()

_AUTH: dict[int, OpenAPIResponse] = {
    401: error_response("No credentials (AWS_IAM in AWS; a bearer token on `reelrank serve`)."),
    403: error_response("Credentials not allowed to call admin routes."),
}
_BODY_ERRORS: dict[int, OpenAPIResponse] = {422: error_response("The body is invalid; the message names the field.")}
JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The job's id.")]


@router.post(
    "/ingest",
    summary="Ingest a snapshot",
    description="Inline records (`{records, source?, snapshot_id?}`) or an S3 object (`{bucket, key}`), ingested "
    "at once through the ingest path. Re-sending the same content reports `duplicate` and writes nothing.",
    responses={200: {"description": "The ingestion's outcome."}, **_BODY_ERRORS, **_AUTH},
    tags=["admin"],
)
def post_ingest(body: Annotated[DirectRecordsEvent | ObjectEvent, Body()]) -> IngestResponse:
    return admin.ingest(get_connection(), body.model_dump(exclude_none=True))


@router.post(
    "/backfill",
    summary="Start an Impact backfill",
    description="Creates a backfill job (or returns the unfinished one) and starts ImpactBackfillFunction on it.",
    responses={202: {"description": "The job, started."}, **_BODY_ERRORS, **_AUTH},
    tags=["admin"],
)
def post_backfill(body: Annotated[BackfillStartRequest, Body()]) -> Response[BackfillResponse]:
    job = admin.start_backfill(get_connection(), body.mode, get_api_settings())
    return Response(HTTPStatus.ACCEPTED, content_type="application/json", body=job)


@router.post(
    "/impact-weights",
    summary="Activate new Impact weights",
    description="Adds a weights version and activates it; run a backfill to rescore existing videos.",
    responses={201: {"description": "The new active version."}, **_BODY_ERRORS, **_AUTH},
    tags=["admin"],
)
def post_impact_weights(body: Annotated[ImpactWeightsRequest, Body()]) -> Response[ImpactWeightsResponse]:
    return Response(
        HTTPStatus.CREATED, content_type="application/json", body=set_impact_weights(get_connection(), body)
    )


@router.post(
    "/view-tracking/run",
    summary="Start a view tracking run",
    description="Queues a tracking job (optionally capped at `limit` videos) and starts ViewTrackingFunction on it.",
    responses={202: {"description": "The job, queued or run."}, **_BODY_ERRORS, **_AUTH},
    tags=["admin"],
)
def post_view_tracking_run(body: Annotated[ViewTrackingRunRequest, Body()]) -> Response[TrackingJobOut]:
    job = admin.start_view_tracking(get_connection(), body.limit, get_api_settings())
    return Response(HTTPStatus.ACCEPTED, content_type="application/json", body=job)


@router.get(
    "/view-tracking/stats",
    summary="View tracking statistics",
    description="Videos per tier, due now and today, today's quota, the last runs and the fastest-growing videos.",
    responses={200: {"description": "The statistics."}, **_AUTH},
    tags=["admin"],
)
def get_view_tracking_stats() -> ViewTrackingStats:
    return view_tracking_stats(get_connection(), get_view_tracking_settings())


@router.get(
    "/jobs/<job_id>",
    summary="Get a job",
    description="A backfill job (default) or a view tracking job (`kind=view-tracking`) and its progress.",
    responses={200: {"description": "The job."}, 404: error_response("No such job."), **_AUTH},
    tags=["admin"],
)
def get_job(
    job_id: JobId,
    kind: Annotated[Literal["backfill", "view-tracking"], Query(description="Which kind of job.")] = "backfill",
) -> BackfillResponse | TrackingJobOut:
    return admin.get_job(get_connection(), kind, job_id)


@router.get(
    "/ingestions/<ingestion_id>",
    summary="Get an ingestion",
    description="One ingestion: its source, counts, status, timings and first 100 rejected records with reasons.",
    responses={
        200: {"description": "The ingestion."},
        404: error_response("No such ingestion."),
        **_AUTH,
    },
    tags=["admin"],
)
def get_ingestion(ingestion_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> IngestionDetail:
    return admin.get_ingestion(get_connection(), ingestion_id)
