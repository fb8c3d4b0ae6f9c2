"""A local stand-in for the Lambda Python runtime: run a template.yaml function in this process, without Docker.

What ``sam local invoke`` does, minus the container: the function's environment from the template (the shell wins,
see :mod:`reelrank_dev.sam_template`), ``DATABASE_URL`` pointed at the embedded PostgreSQL unless already set, the
handler module imported from the function's ``CodeUri`` folder under a module name of its own (every function's
file is ``app.py``), a context object like Lambda's, the function's ``Timeout`` enforced, and the outcome shaped like
Lambda's invoke response: the handler's JSON result, or ``{"errorMessage", "errorType", "requestId", "stackTrace"}``.

The ``CoreLayer`` is not unpacked: the ``reelrank`` package is installed in the virtualenv, which is what the layer
puts on the function's path in AWS.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from reelrank_dev.sam_template import FunctionSpec

# what `sam local invoke` uses for the account of the ARNs it makes up
LOCAL_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The context object the Lambda Python runtime passes as a handler's second argument."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    # time.monotonic() at which the invocation times out
    deadline: float = field(default=float("inf"), repr=False)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout, like the real context's method."""
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def build_context(spec: FunctionSpec, *, request_id: str | None = None, start: float | None = None) -> LambdaContext:
    """A context for one invocation of ``spec``, its deadline ``Timeout`` seconds after ``start`` (default: now)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    name = spec.logical_id  # like sam local: the logical id stands in for the deployed function name
    return LambdaContext(
        function_name=name,
        memory_limit_in_mb=spec.memory,
        invoked_function_arn=f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{name}",
        aws_request_id=request_id or str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
        deadline=(start if start is not None else time.monotonic()) + spec.timeout,
    )


def local_environment(spec: FunctionSpec, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables to set before importing ``spec``'s handler: its template environment plus Lambda's own.

    Variables already in ``environ`` are not overridden (``spec.environment`` has already let the shell win).
    ``DATABASE_URL`` is not included: :func:`prepare_environment` resolves it, because that may start a server.
    """
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    runtime_defaults = {
        # no X-Ray daemon locally; Powertools would otherwise try to emit segments
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_SAM_LOCAL": "true",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
        "LAMBDA_TASK_ROOT": str(spec.code_uri),
    }
    merged = dict(spec.environment)
    merged.update({k: v for k, v in runtime_defaults.items() if k not in environ and k not in merged})
    return merged


def prepare_environment(spec: FunctionSpec) -> dict[str, str]:
    """Set ``spec``'s environment in ``os.environ`` (one function per process); returns what was set.

    ``DATABASE_URL`` defaults to the embedded PostgreSQL, which is started if it is not running.
    """
    applied = local_environment(spec, os.environ)
    os.environ.update(applied)
    if not os.environ.get("DATABASE_URL"):
        from reelrank_dev import embedded

        applied["DATABASE_URL"] = os.environ["DATABASE_URL"] = embedded.database_url()
    return applied


class HandlerLoadError(Exception):
    """The handler could not be loaded; ``error_type`` is the Lambda runtime's name for the failure."""

    def __init__(self, error_type: str, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.cause = cause


def _module_name(spec: FunctionSpec) -> str:
    # unique per function: every function's module is `app`, and two of them must not share sys.modules["app"]
    return f"_reelrank_lambda_{spec.logical_id}_{spec.handler_module.replace('.', '_')}"


def load_handler(spec: FunctionSpec) -> Handler:
    """Import ``spec``'s handler module from its ``CodeUri`` folder and return the handler function.

    The folder is on ``sys.path`` while the module is imported, as the task root is in Lambda. A module already
    loaded for the same function is reused (a warm container).

    Raises
    ------
    HandlerLoadError
        ``Runtime.ImportModuleError`` when the module is missing or fails to import, ``Runtime.HandlerNotFound``
        when it has no such function.
    """
    name = _module_name(spec)
    module: ModuleType | None = sys.modules.get(name)
    if module is None:
        path = spec.handler_path
        module_spec = importlib.util.spec_from_file_location(name, path)
        if not path.is_file() or module_spec is None or module_spec.loader is None:
            raise HandlerLoadError(
                "Runtime.ImportModuleError", f"Unable to import module '{spec.handler_module}': no file {path}"
            )
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        task_root = str(spec.code_uri)
        sys.path.insert(0, task_root)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise HandlerLoadError(
                "Runtime.ImportModuleError", f"Unable to import module '{spec.handler_module}': {exc}", exc
            ) from exc
        finally:
            sys.path.remove(task_root)
    handler: Handler | None = getattr(module, spec.handler_function, None)
    if not callable(handler):
        raise HandlerLoadError(
            "Runtime.HandlerNotFound", f"Handler '{spec.handler_function}' missing on module '{spec.handler_module}'"
        )
    return handler


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation: the handler's result, or a Lambda-style error payload."""

    request_id: str
    payload: Any
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> str:
        """What Lambda's invoke API returns: the result, or the error object."""
        return json.dumps(self.error if self.error is not None else self.payload)


def error_payload(error_type: str, message: str, request_id: str, exc: BaseException | None = None) -> dict[str, Any]:
    """A Lambda Python runtime error response; the stack trace leaves out this module's own frames."""
    frames = traceback.extract_tb(exc.__traceback__) if exc is not None else []
    stack = traceback.format_list([f for f in frames if f.filename != __file__])
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def invoke(spec: FunctionSpec, event: Any, *, request_id: str | None = None) -> InvocationResult:
    """Invoke ``spec``'s handler with ``event`` in this process, enforcing the function's timeout.

    The environment must already be prepared (:func:`prepare_environment`). The handler runs in a daemon thread;
    when ``spec.timeout`` passes first, the result is Lambda's timeout error and the thread is abandoned (the caller
    should exit soon after, as Lambda would freeze the sandbox).
    """
    request_id = request_id or str(uuid.uuid4())
    try:
        handler = load_handler(spec)
    except HandlerLoadError as exc:
        return InvocationResult(request_id, None, error_payload(exc.error_type, str(exc), request_id, exc.cause))

    outcome: dict[str, Any] = {}
    start = time.monotonic()
    context = build_context(spec, request_id=request_id, start=start)

    def run() -> None:
        try:
            outcome["result"] = handler(event, context)
        except BaseException as exc:  # the runtime reports everything, SystemExit included
            outcome["error"] = exc
            # as the runtime logs it
            print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)

    thread = threading.Thread(target=run, name=f"lambda-{spec.logical_id}", daemon=True)
    thread.start()
    thread.join(timeout=spec.timeout)
    duration_ms = (time.monotonic() - start) * 1000
    if thread.is_alive():
        message = f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"
        return InvocationResult(request_id, None, error_payload("Sandbox.Timedout", message, request_id), duration_ms)
    if "error" in outcome:
        failure: BaseException = outcome["error"]
        payload = error_payload(type(failure).__name__, str(failure), request_id, failure)
        return InvocationResult(request_id, None, payload, duration_ms)
    try:
        json.dumps(outcome["result"])
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return InvocationResult(
            request_id, None, error_payload("Runtime.MarshalError", message, request_id), duration_ms
        )
    return InvocationResult(request_id, outcome["result"], None, duration_ms)
