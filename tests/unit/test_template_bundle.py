"""The deployable bundle's rules, checked on template.yaml and infra/database.yaml as data (no AWS needed).

cfn-lint and ``sam validate --lint`` (``make lint``) check that the templates are valid; these tests check that they
say what the project promises: every function alarmed, every asynchronous or scheduled failure kept, every queue
watched, the database stack's outputs matching the main stack's parameters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reelrank_dev.sam_template import function_ids, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(REPO_ROOT / "template.yaml")
DATABASE = load_template(REPO_ROOT / "infra" / "database.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTION_IDS = function_ids(TEMPLATE)


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


ALARMS = of_type("AWS::CloudWatch::Alarm")


def alarms_on(namespace: str, metric: str, dimension_value: Any) -> list[str]:
    return [
        name
        for name, alarm in ALARMS.items()
        if alarm["Properties"]["Namespace"] == namespace
        and alarm["Properties"]["MetricName"] == metric
        and any(d["Value"] == dimension_value for d in alarm["Properties"]["Dimensions"])
    ]


def test_the_five_functions_of_the_design_are_in_the_template() -> None:
    assert set(FUNCTION_IDS) == {
        "IngestFunction",
        "ImpactBackfillFunction",
        "ReconcileFunction",
        "ViewTrackingFunction",
        "RankingApiFunction",
    }


def test_globals_set_runtime_architecture_tracing_json_logs_layer_and_vpc() -> None:
    function = TEMPLATE["Globals"]["Function"]
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["Tracing"] == "Active"
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert function["Layers"] == [{"Ref": "CoreLayer"}]
    assert function["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "Reelrank"
    # in the database's VPC only when its subnets and security group are given
    assert function["VpcConfig"]["Fn::If"][0] == "InVpc"
    assert function["VpcConfig"]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert function["Environment"]["Variables"]["DB_HOST"] == {"Ref": "DatabaseProxyEndpoint"}


def test_every_function_has_its_own_service_name() -> None:
    names = [RESOURCES[f]["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for f in FUNCTION_IDS]
    assert len(set(names)) == len(names), names


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_every_function_has_errors_and_throttles_alarms(logical_id: str) -> None:
    ref = {"Ref": logical_id}
    assert alarms_on("AWS/Lambda", "Errors", ref), f"no Errors alarm on {logical_id}"
    assert alarms_on("AWS/Lambda", "Throttles", ref), f"no Throttles alarm on {logical_id}"


@pytest.mark.parametrize("queue", sorted(of_type("AWS::SQS::Queue")))
def test_every_dead_letter_queue_has_a_depth_alarm(queue: str) -> None:
    if "DeadLetter" not in queue:
        pytest.skip(f"{queue} is a work queue (its failures are dead-lettered and alarmed there)")
    assert alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": [queue, "QueueName"]})


def test_the_api_has_a_5xx_alarm() -> None:
    assert any(a["Properties"]["MetricName"] == "5XXError" for a in ALARMS.values())


def test_every_alarm_notifies_the_topic_when_one_is_given() -> None:
    expected = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for name, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == expected, name
        assert alarm["Properties"].get("AlarmDescription"), name


def function_events(logical_id: str) -> list[dict[str, Any]]:
    return list((RESOURCES[logical_id]["Properties"].get("Events") or {}).values())


@pytest.mark.parametrize("logical_id", FUNCTION_IDS)
def test_asynchronous_and_scheduled_failures_land_in_a_queue(logical_id: str) -> None:
    properties = RESOURCES[logical_id]["Properties"]
    kinds = {e["Type"] for e in function_events(logical_id)}
    if not kinds & {"S3", "ScheduleV2"} and "EventInvokeConfig" not in properties:
        pytest.skip(f"{logical_id} is only invoked synchronously")
    # Lambda's own retries end in an on-failure destination
    destination = properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert destination["Type"] == "SQS"
    assert destination["Destination"]["Fn::GetAtt"][0] in of_type("AWS::SQS::Queue")
    # and a schedule the scheduler could not deliver goes to a dead-letter queue, with an explicit Input
    for event in function_events(logical_id):
        if event["Type"] == "ScheduleV2":
            assert event["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in of_type("AWS::SQS::Queue")
            assert event["Properties"]["Input"]


def test_secrets_are_read_only_by_the_arns_the_parameters_name() -> None:
    for logical_id in FUNCTION_IDS:
        for policy in RESOURCES[logical_id]["Properties"]["Policies"]:
            if "AWSSecretsManagerGetSecretValuePolicy" in policy:
                arn = policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
                assert arn in ({"Ref": "DatabaseSecretArn"}, {"Ref": "YouTubeApiKeySecretArn"}), logical_id


def test_the_database_stack_outputs_are_the_main_stacks_parameters() -> None:
    # Given the outputs the database stack documents as main-stack parameters
    outputs = {name for name, output in DATABASE["Outputs"].items() if "main stack parameter" in output["Description"]}
    # Then each one is a parameter of template.yaml under the same name
    assert outputs == {"DatabaseSecretArn", "DatabaseProxyEndpoint", "SubnetIds", "SecurityGroupId"}
    assert outputs <= set(TEMPLATE["Parameters"])
    # and the VPC parameters default to "no VPC", so a stack without the database stack still deploys
    assert TEMPLATE["Parameters"]["SubnetIds"]["Default"] == ""
    assert TEMPLATE["Parameters"]["SecurityGroupId"]["Default"] == ""


def test_the_database_stack_chains_functions_to_proxy_to_cluster_on_5432_only() -> None:
    resources = DATABASE["Resources"]
    rules = {
        (r["Properties"].get("GroupId", {}).get("Ref"), r["Type"].rsplit("::", 1)[1]): r["Properties"]
        for r in resources.values()
        if r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
    }
    assert rules[("ProxySecurityGroup", "SecurityGroupIngress")]["SourceSecurityGroupId"] == {
        "Ref": "FunctionSecurityGroup"
    }
    assert rules[("DatabaseSecurityGroup", "SecurityGroupIngress")]["SourceSecurityGroupId"] == {
        "Ref": "ProxySecurityGroup"
    }
    assert all(p["FromPort"] == p["ToPort"] == 5432 for p in rules.values())
    cluster = resources["DatabaseCluster"]["Properties"]
    assert cluster["Engine"] == "aurora-postgresql"
    assert "ServerlessV2ScalingConfiguration" in cluster
    assert resources["DatabaseWriter"]["Properties"]["DBInstanceClass"] == "db.serverless"
    proxy = resources["DatabaseProxy"]["Properties"]
    assert proxy["RequireTLS"] is True
    assert proxy["Auth"][0]["SecretArn"] == {"Ref": "DatabaseSecret"}


def test_make_build_without_python_3_12_says_what_to_install() -> None:
    # Given a SAM_PYTHON that is not Python 3.12 (this interpreter is 3.11+, never 3.12 here, or a missing one)
    not_312 = sys.executable if sys.version_info[:2] != (3, 12) else "/nonexistent/python3.12"
    # When make build runs (-o: do not install the SAM CLI tools for this)
    done = subprocess.run(
        ["make", "-o", ".venv/tools/sam/.installed-stamp", "build", f"SAM_PYTHON={not_312}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
        check=False,
    )
    # Then it stops before sam build with a message naming what it needs
    assert done.returncode != 0
    assert "needs" in done.stderr
    assert "Python 3.12" in done.stderr
    assert "sam build" not in done.stdout
