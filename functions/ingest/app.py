from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from reelrank.db.connection import get_connection, open_connection
from reelrank.observability import logger, metrics, tracer
from reelrank.services.ingest import handle_ingest_event
from reelrank.settings import get_ingest_settings

# S3 notifications carry S3's request id for the PUT; direct invokes fall back to their snapshot id or object key.
CORRELATION_ID_PATH = 'Records[0].responseElements."x-amz-request-id" || snapshot_id || key'


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # INGEST_WRITERS streams write at once, the first on the container's connection, the others on their own
    response = handle_ingest_event(
        event, get_connection(), open_connection=open_connection, writers=get_ingest_settings().ingest_writers
    )
    metrics.add_metric(name="AcceptedVideos", unit=MetricUnit.Count, value=response.accepted)
    metrics.add_metric(name="RejectedVideos", unit=MetricUnit.Count, value=response.rejected)
    # an unreadable file is reported, not raised (a retry cannot fix it): this metric is what alarms on it
    metrics.add_metric(name="FailedSnapshots", unit=MetricUnit.Count, value=int(response.status == "failed"))
    log = logger.error if response.status == "failed" else logger.info
    log("snapshot ingested", status=response.status, accepted=response.accepted, rejected=response.rejected,
        error=response.error)  # fmt: skip
    return response.model_dump(mode="json")
