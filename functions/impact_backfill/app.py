from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from reelrank.db.connection import get_connection
from reelrank.models.backfill import BackfillContinuationRecord, BackfillRequest
from reelrank.observability import logger, metrics, tracer
from reelrank.services.backfill import BackfillRunner
from reelrank.settings import get_backfill_settings

processor = BatchProcessor(event_type=EventType.SQS, model=BackfillContinuationRecord)


@logger.inject_lambda_context(correlation_id_path="job_id || Records[0].messageId || mode")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runner = BackfillRunner(get_connection(), get_backfill_settings(), context.get_remaining_time_in_millis)
    if "Records" in event:  # continuation messages from BackfillContinuationQueue
        return process_partial_response(
            event=event, record_handler=runner.continue_from_record, processor=processor, context=context
        )
    return runner.run(BackfillRequest.model_validate(event)).model_dump(mode="json")
