"""template.yaml as the local runtime reads it (``reelrank_dev.sam_template``), and the layout rules it must keep."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from reelrank_dev.sam_template import (
    DEFAULT_TIMEOUT_SECONDS,
    TemplateError,
    UnknownFunctionError,
    function_ids,
    function_spec,
    load_template,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
TEMPLATE = load_template(TEMPLATE_PATH)
FUNCTION_IDS = function_ids(TEMPLATE)


def ingest_spec(environ: dict[str, str] | None = None) -> Any:
    return function_spec(TEMPLATE, "IngestFunction", environ=environ or {}, template_dir=REPO_ROOT)


# ---------------------------------------------------------------------------------------------------------------
# function_spec of the real template
# ---------------------------------------------------------------------------------------------------------------


def test_ingest_function_spec_points_at_its_folder_and_handler() -> None:
    # When the ingest function is resolved from the repository's template
    spec = ingest_spec()
    # Then its code is functions/ingest/app.py:lambda_handler with the template's timeout and memory
    assert spec.code_uri == REPO_ROOT / "functions" / "ingest"
    assert spec.handler == "app.lambda_handler"
    assert (spec.handler_module, spec.handler_function) == ("app", "lambda_handler")
    assert spec.handler_path == REPO_ROOT / "functions" / "ingest" / "app.py"
    assert spec.timeout == 900
    assert spec.memory == 1769
    assert spec.runtime == "python3.12"
    assert spec.events["SnapshotDelivered"]["Type"] == "S3"


def test_ingest_environment_merges_globals_with_its_own_variables() -> None:
    # When the ingest function is resolved with an empty shell
    env = ingest_spec().environment
    # Then Globals' variables and its own are both there, and a !Ref to a parameter takes the parameter's default
    assert env["POWERTOOLS_SERVICE_NAME"] == "ingest"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Reelrank"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env["STAGE"] == "dev"


def test_ingest_environment_skips_values_only_aws_can_resolve() -> None:
    # When the ingest function is resolved with an empty shell
    spec = ingest_spec()
    # Then DB_SECRET_ARN (a !Ref to a parameter without a default) is left out, and said so
    assert "DB_SECRET_ARN" not in spec.environment
    assert spec.unresolved_environment == ("DB_SECRET_ARN",)


def test_ingest_environment_lets_the_shell_win() -> None:
    # Given a shell that sets two of the template's variables and one of its own
    shell = {
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "HOME": "/root",
    }
    # When the ingest function is resolved
    spec = ingest_spec(shell)
    # Then the shell's values win, an intrinsic value set in the shell is used, and undeclared variables stay out
    assert spec.environment["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert spec.environment["DB_SECRET_ARN"] == shell["DB_SECRET_ARN"]
    assert spec.unresolved_environment == ()
    assert "HOME" not in spec.environment


def test_unknown_logical_id_names_it_and_lists_the_functions() -> None:
    # When a logical id that is not a function is asked for (a missing one, and a bucket)
    for logical_id in ("NoSuchFunction", "SnapshotBucket"):
        with pytest.raises(UnknownFunctionError) as caught:
            function_spec(TEMPLATE, logical_id)
        # Then the error names it and the functions there are
        assert repr(logical_id) in str(caught.value)
        assert "IngestFunction" in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# function_spec rules, on small templates
# ---------------------------------------------------------------------------------------------------------------


def small_template(function: dict[str, Any], globals_: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "Secret": {"Type": "String"}},
        "Globals": {"Function": globals_ or {}},
        "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": function}},
    }


def test_timeout_and_memory_come_from_the_function_then_globals_then_lambda_defaults() -> None:
    base = {"CodeUri": "functions/x", "Handler": "app.lambda_handler"}
    own = function_spec(small_template({**base, "Timeout": 30, "MemorySize": 512}, {"Timeout": 60}), "Fn")
    from_globals = function_spec(small_template(base, {"Timeout": 60, "MemorySize": 1024}), "Fn")
    lambda_default = function_spec(small_template(base), "Fn")
    from_parameter = function_spec(
        {**small_template({**base, "Timeout": {"Ref": "T"}}), "Parameters": {"T": {"Type": "Number", "Default": 45}}},
        "Fn",
    )
    assert (own.timeout, own.memory) == (30, 512)
    assert (from_globals.timeout, from_globals.memory) == (60, 1024)
    assert (lambda_default.timeout, lambda_default.memory) == (DEFAULT_TIMEOUT_SECONDS, 128)
    assert from_parameter.timeout == 45


def test_function_variables_override_globals_and_literals_render_like_cloudformation() -> None:
    # Given a variable in both Globals and the function, and non-string literals
    template = small_template(
        {
            "CodeUri": "functions/x",
            "Handler": "app.lambda_handler",
            "Environment": {
                "Variables": {"LEVEL": "own", "FLAG": True, "COUNT": 5, "ARN": {"Fn::GetAtt": ["Q", "Arn"]}}
            },
        },
        {"Environment": {"Variables": {"LEVEL": "global", "STAGE": {"Ref": "Stage"}, "SECRET": {"Ref": "Secret"}}}},
    )
    # When it is resolved
    spec = function_spec(template, "Fn", template_dir="/srv/app")
    # Then the function's value wins and literals are strings Lambda would see
    assert spec.environment == {"LEVEL": "own", "STAGE": "dev", "FLAG": "true", "COUNT": "5"}
    assert set(spec.unresolved_environment) == {"SECRET", "ARN"}
    assert spec.code_uri == Path("/srv/app/functions/x")


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"CodeUri": "s3://bucket/code.zip", "Handler": "app.lambda_handler"}, "no local CodeUri"),
        ({"CodeUri": "functions/x"}, "no Handler"),
        ({"PackageType": "Image", "ImageUri": "repo:tag"}, "image function"),
    ],
)
def test_functions_that_cannot_run_locally_are_refused(properties: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        function_spec(small_template(properties), "Fn")


def test_load_template_turns_short_tags_into_their_long_form(tmp_path: Path) -> None:
    # Given a template using each shape of short tag
    path = tmp_path / "template.yaml"
    path.write_text(
        "Conditions:\n"
        '  HasTopic: !Not [!Equals [!Ref Topic, ""]]\n'
        "Resources:\n"
        "  Q:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: !Sub reelrank-${Stage}\n"
        "      Tags:\n"
        "        - Key: arn\n"
        "          Value: !GetAtt Other.Arn\n"
        "        - Key: joined\n"
        "          Value: !Sub\n"
        "            - ${A}-x\n"
        "            - A: !Ref Stage\n"
        "        - Key: picked\n"
        "          Value: !If [HasTopic, !Ref Topic, !Ref AWS::NoValue]\n",
        encoding="utf-8",
    )
    # When it is loaded
    template = load_template(path)
    # Then every tag is the long form a JSON template would spell out
    assert template["Conditions"]["HasTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "Topic"}, ""]}]}
    properties = template["Resources"]["Q"]["Properties"]
    assert properties["QueueName"] == {"Fn::Sub": "reelrank-${Stage}"}
    tags = {t["Key"]: t["Value"] for t in properties["Tags"]}
    assert tags["arn"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert tags["joined"] == {"Fn::Sub": ["${A}-x", {"A": {"Ref": "Stage"}}]}
    assert tags["picked"] == {"Fn::If": ["HasTopic", {"Ref": "Topic"}, {"Ref": "AWS::NoValue"}]}


def test_load_template_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read template"):
        load_template(tmp_path / "absent.yaml")


# ---------------------------------------------------------------------------------------------------------------
# Layout rules of template.yaml and functions/ (STYLE habits 1 and 11)
# ---------------------------------------------------------------------------------------------------------------


def defines_lambda_handler(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return any(isinstance(node, ast.FunctionDef) and node.name == "lambda_handler" for node in tree.body)


def test_the_template_has_functions() -> None:
    assert "IngestFunction" in FUNCTION_IDS


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_every_function_is_a_folder_with_one_app_py_defining_lambda_handler(logical_id: str) -> None:
    spec = function_spec(TEMPLATE, logical_id, template_dir=REPO_ROOT)
    # CodeUri is functions/<name>, the handler app.lambda_handler, defined at module level (checked without importing)
    assert spec.code_uri.parent == REPO_ROOT / "functions"
    assert spec.handler == "app.lambda_handler"
    assert spec.handler_path.is_file(), f"{logical_id}: {spec.handler_path} is missing"
    assert defines_lambda_handler(spec.handler_path), f"{logical_id}: no lambda_handler in {spec.handler_path}"
    # and nothing beside it: anything shared belongs in the layer, and the layer carries the requirements
    extra = sorted(p.name for p in spec.code_uri.iterdir() if p.name != "app.py" and p.name != "__pycache__")
    assert extra == [], f"{logical_id}: {spec.code_uri} holds more than app.py: {extra}"


def test_every_function_folder_is_in_the_template() -> None:
    referenced = {function_spec(TEMPLATE, fid, template_dir=REPO_ROOT).code_uri for fid in FUNCTION_IDS}
    folders = {p.resolve() for p in (REPO_ROOT / "functions").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders - referenced == set(), "function folders without an AWS::Serverless::Function in template.yaml"


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_every_function_has_a_description_a_service_name_and_an_expiring_log_group(logical_id: str) -> None:
    resources = TEMPLATE["Resources"]
    properties = resources[logical_id]["Properties"]
    assert properties.get("Description"), f"{logical_id} has no Description"
    assert properties["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME"), logical_id
    log_group = resources.get(f"{logical_id}LogGroup")
    assert log_group is not None, f"no {logical_id}LogGroup"
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"}
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_ingest_read_policy_names_the_snapshot_bucket_it_is_notified_by() -> None:
    # The policy names the bucket by its !Sub name (a !Ref would be a circular dependency): the two must agree.
    resources = TEMPLATE["Resources"]
    policies = resources["IngestFunction"]["Properties"]["Policies"]
    read = next(p["S3ReadPolicy"] for p in policies if "S3ReadPolicy" in p)
    assert read["BucketName"] == resources["SnapshotBucket"]["Properties"]["BucketName"]
    event = resources["IngestFunction"]["Properties"]["Events"]["SnapshotDelivered"]
    assert event["Properties"]["Bucket"] == {"Ref": "SnapshotBucket"}
