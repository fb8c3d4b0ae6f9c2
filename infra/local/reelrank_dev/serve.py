"""``reelrank serve``: the API routes of template.yaml on localhost, what ``sam local start-api`` does without Docker.

Every ``Api`` event of every function in the template becomes a route. A request is matched against them (literal
segments before ``{parameters}``, as API Gateway does), turned into an API Gateway REST proxy event (v1: ``resource``,
``path``, ``httpMethod``, headers and query string in single- and multi-value form, ``pathParameters``,
``requestContext``, ``body``), and handed to the owning function through :mod:`reelrank_dev.local_lambda` (its
template environment, a Lambda context, its timeout). One invocation per function at a time, like one warm
container. The function's ``{statusCode, headers, multiValueHeaders, body, isBase64Encoded}`` becomes the HTTP
response; a function that fails or times out is a 502, as API Gateway answers.

Routes whose event says ``Auth: {Authorizer: AWS_IAM}`` need ``Authorization: Bearer $REELRANK_ADMIN_TOKEN``: none
is a 401, any other value (or no token configured) a 403, before the function is invoked. A path no route matches is
API Gateway's 403 ``Missing Authentication Token``.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from reelrank_dev import local_lambda
from reelrank_dev.sam_template import FunctionSpec, TemplateError, function_ids, function_spec, load_template

DEFAULT_PORT = 3000
ADMIN_TOKEN_ENV = "REELRANK_ADMIN_TOKEN"
LOCAL_STAGE = "local"


@dataclass(frozen=True)
class ApiRoute:
    """One ``Api`` event: method, path template, the function that owns it, and whether it needs AWS_IAM."""

    method: str
    path: str
    logical_id: str
    iam_auth: bool

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/")) if self.path.strip("/") else ()

    def match(self, segments: tuple[str, ...]) -> dict[str, str] | None:
        """The path parameters when ``segments`` fit this route, else None."""
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for pattern, value in zip(self.segments, segments, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not value:
                    return None
                params[pattern[1:-1]] = value
            elif pattern != value:
                return None
        return params

    @property
    def specificity(self) -> tuple[int, ...]:
        # API Gateway prefers literal segments over parameters, left to right
        return tuple(0 if s.startswith("{") else 1 for s in self.segments)


def api_routes(template: Mapping[str, Any]) -> list[ApiRoute]:
    """Every ``Api`` event of every function in ``template``, most specific first."""
    routes = []
    resources = template.get("Resources") or {}
    for logical_id in function_ids(template):
        events = ((resources[logical_id].get("Properties") or {}).get("Events")) or {}
        for event in events.values():
            if not isinstance(event, dict) or event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            auth = (props.get("Auth") or {}).get("Authorizer")
            routes.append(ApiRoute(str(props["Method"]).upper(), str(props["Path"]), logical_id, auth == "AWS_IAM"))
    return sorted(routes, key=lambda r: r.specificity, reverse=True)


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value  # API Gateway's single-value form keeps the last
        multi.setdefault(key, []).append(value)
    return single, multi


def build_event(
    route: ApiRoute,
    method: str,
    segments: tuple[str, ...],
    params: dict[str, str],
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload v1) for one request."""
    path = "/" + "/".join(segments)
    header_single, header_multi = _multi(headers)
    query_single, query_multi = _multi(parse_qsl(query, keep_blank_values=True))
    text: str | None
    try:
        text, encoded = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": header_single,
        "multiValueHeaders": header_multi,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": query_multi,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": path,
            "stage": LOCAL_STAGE,
            "requestId": str(uuid.uuid4()),
            "accountId": local_lambda.LOCAL_ACCOUNT_ID,
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),  # API Gateway's format
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": (header_single or {}).get("User-Agent")},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def check_admin(authorization: str | None, token: str | None) -> int | None:
    """None when allowed; 401 without credentials; 403 with wrong ones (or when no token is configured)."""
    if not authorization:
        return 401
    scheme, _, given = authorization.partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return 403
    return None


class LocalApi:
    """The routes of one template and the functions behind them, ready to answer requests."""

    def __init__(self, template_path: Path, environ: Mapping[str, str] | None = None) -> None:
        template = load_template(template_path)
        self.routes = api_routes(template)
        env = environ if environ is not None else os.environ
        self.specs: dict[str, FunctionSpec] = {}
        for logical_id in sorted({r.logical_id for r in self.routes}):
            self.specs[logical_id] = function_spec(template, logical_id, environ=env, template_dir=template_path.parent)
        # one process hosts the functions: each one's template environment is applied (the last one wins on clashes)
        for spec in self.specs.values():
            local_lambda.prepare_environment(spec)
        self._locks = {logical_id: threading.Lock() for logical_id in self.specs}

    def find(self, method: str, segments: tuple[str, ...]) -> tuple[ApiRoute, dict[str, str]] | None:
        for route in self.routes:
            if route.method in (method, "ANY"):
                params = route.match(segments)
                if params is not None:
                    return route, params
        return None

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request: (status, headers, body)."""
        split = urlsplit(target)
        segments = tuple(unquote(s) for s in split.path.strip("/").split("/")) if split.path.strip("/") else ()
        found = self.find(method, segments)
        if found is None:
            return _json(403, {"message": "Missing Authentication Token"})
        route, params = found
        if route.iam_auth:
            authorization = next((v for k, v in headers if k.lower() == "authorization"), None)
            denied = check_admin(authorization, os.environ.get(ADMIN_TOKEN_ENV))
            if denied == 401:
                return _json(401, {"message": "Unauthorized: send Authorization: Bearer $REELRANK_ADMIN_TOKEN"})
            if denied == 403:
                return _json(403, {"message": "Forbidden: the bearer token is not REELRANK_ADMIN_TOKEN"})
        event = build_event(route, method, segments, params, split.query, headers, body)
        with self._locks[route.logical_id]:
            result = local_lambda.invoke(self.specs[route.logical_id], event)
        if not result.ok or not isinstance(result.payload, dict) or "statusCode" not in result.payload:
            print(f"serve: {route.logical_id} failed: {json.dumps(result.error)[:2000]}", file=sys.stderr)
            return _json(502, {"message": "Internal server error"})
        return _response(result.payload)


def _json(status: int, body: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps(body).encode()


def _response(payload: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (payload.get("headers") or {}).items()]
    seen = {k.lower() for k, _ in headers}
    for key, values in (payload.get("multiValueHeaders") or {}).items():
        if key.lower() not in seen:
            headers.extend((key, str(v)) for v in values)
    raw = payload.get("body") or ""
    body = base64.b64decode(raw) if payload.get("isBase64Encoded") else str(raw).encode()
    return int(payload["statusCode"]), headers, body


def make_server(api: LocalApi, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering through ``api`` (``serve_forever`` it; port 0 picks a free port)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = api.handle(self.command, self.path, list(self.headers.items()), body)
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

        def log_message(self, format: str, *args: Any) -> None:
            print(f"serve: {self.address_string()} {format % args}", file=sys.stderr)

    return ThreadingHTTPServer((host, port), Handler)


def _port(value: str | None) -> int:
    return int(value) if value else DEFAULT_PORT


def _cmd_serve(args: argparse.Namespace) -> int:
    template_path = Path(args.template).resolve()
    try:
        api = LocalApi(template_path)
    except (TemplateError, KeyError) as exc:
        print(f"serve: {exc} [{template_path}]", file=sys.stderr)
        return 2
    port = args.port if args.port is not None else _port(os.environ.get("REELRANK_PORT"))
    server = make_server(api, args.host, port)
    print(f"serving {len(api.routes)} routes of {template_path.name} on http://{args.host}:{server.server_port}")
    for route in api.routes:
        print(
            f"  {route.method:<5} {route.path}  -> {route.logical_id}{'  (admin: bearer token)' if route.iam_auth else ''}"
        )
    if not os.environ.get(ADMIN_TOKEN_ENV):
        print(f"  ({ADMIN_TOKEN_ENV} is not set: admin routes answer 401/403)")
    sys.stdout.flush()
    # from here on the functions' logs and EMF metrics (Powertools prints them to stdout) go to stderr, as with
    # `reelrank invoke`: stdout carries only the banner above, so a caller reading it never blocks the server
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def register(sub: Any) -> None:
    """Add ``reelrank serve`` to the CLI's subparsers."""
    from reelrank_dev.cli import TEMPLATE

    serve = sub.add_parser(
        "serve",
        help="serve the Api routes of template.yaml on localhost (sam local start-api, without Docker)",
        description="Each HTTP request becomes an API Gateway REST proxy event for the function owning the route. "
        f"Admin (AWS_IAM) routes need Authorization: Bearer ${ADMIN_TOKEN_ENV}.",
    )
    serve.add_argument("--port", type=int, default=None, help=f"default: REELRANK_PORT, else {DEFAULT_PORT}")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("-t", "--template", default=str(TEMPLATE), help="default: the repository's template.yaml")
    serve.set_defaults(func=_cmd_serve)
