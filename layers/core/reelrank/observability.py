"""The observability trio every handler and service shares: one Logger, one Tracer, one Metrics (STYLE habit 3).

Powertools configures them from the environment when they are created: ``POWERTOOLS_SERVICE_NAME`` (per function in
template.yaml), ``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_LOG_LEVEL`` (Globals). Nothing else is read here.
Locally the tracer disables itself outside Lambda (and ``reelrank invoke`` sets ``POWERTOOLS_TRACE_DISABLED``).

Logging style: short lower-case phrases plus keyword fields, ``logger.info("snapshot ingested", accepted=3)``;
metric names are PascalCase nouns (``AcceptedVideos``, ``RejectedVideos``).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

__all__ = ["logger", "metrics", "tracer"]

logger: Logger = Logger()
tracer: Tracer = Tracer()
metrics: Metrics = Metrics()
