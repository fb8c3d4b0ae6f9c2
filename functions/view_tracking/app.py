from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from reelrank.db.connection import get_connection
from reelrank.models.view_tracking import ViewTrackingEvent
from reelrank.observability import logger, metrics, tracer
from reelrank.services.view_tracking import track_views
from reelrank.settings import get_view_tracking_settings


# The schedule's Input and direct invokes are the event itself (ViewTrackingEvent); EventBridge Scheduler has no id.
@logger.inject_lambda_context(correlation_id_path="job_id || trigger")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ViewTrackingEvent.model_validate(event)
    job = track_views(
        get_connection(), request, get_view_tracking_settings(), remaining_ms=context.get_remaining_time_in_millis
    )
    metrics.add_metric(name="VideosTracked", unit=MetricUnit.Count, value=job.videos_tracked)
    metrics.add_metric(name="QuotaUnitsSpent", unit=MetricUnit.Count, value=job.quota_units_used)
    logger.info("tracking run done", status=job.status, stopped_reason=job.stopped_reason, job_id=job.job_id)
    return job.model_dump(mode="json")
