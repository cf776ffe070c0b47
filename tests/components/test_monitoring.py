"""Drift monitoring: a drift CronJob per capturing endpoint from config, scoped to its captures,
baseline and reports, and alarms that reach the platform's alert topic and the owning team."""

from __future__ import annotations

import json

from components.monitoring import DRIFT_METRIC, METRIC_NAMESPACE
from mlp.cli import build_parser
from mlp.drift.publish import NAMESPACE as DRIFT_NAMESPACE
from mlp.drift.publish import metric_data
from mlp.offline import MOCK_ACCOUNT_ID
from tests.components.iam_eval import allowed
from tests.conftest import planned

CRON_JOB = "kubernetes:batch/v1:CronJob"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _drift_jobs(stack) -> dict:
    return {j.inputs["metadata"]["name"].removeprefix("drift-"): j for j in planned(stack).run.by_type(CRON_JOB)
            if j.inputs["metadata"]["name"].startswith("drift-")}


def _args(job) -> dict:
    (container,) = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return dict(zip(container["args"][::2], container["args"][1::2]))


def test_every_capturing_endpoint_has_exactly_one_drift_job(stack):
    config = planned(stack).config
    capturing = {e.name for e in config.endpoints if e.capture is not None}
    assert capturing  # every stack has one, so this is not vacuous
    assert set(_drift_jobs(stack)) == capturing


def test_the_job_runs_mlp_drift_with_the_configured_settings(stack):
    plan = planned(stack)
    config = plan.config
    artifacts = config.datalake.bucket_name("artifacts")
    for name, job in _drift_jobs(stack).items():
        settings = config.monitoring.job_of(name)
        endpoint = next(e for e in config.endpoints if e.name == name)
        assert job.inputs["spec"]["schedule"] == settings.schedule
        assert job.inputs["metadata"]["namespace"] == endpoint.team
        args = _args(job)
        assert args == {
            "--endpoint": name,
            "--captures": f"s3://{artifacts}/captures/{endpoint.team}/{name}/",
            "--baseline": settings.baseline.uri,
            "--features": ",".join(settings.features),
            "--window-hours": str(settings.window_hours),
            "--psi-threshold": f"{settings.psi_threshold:g}",
            "--p-value": f"{settings.p_value_threshold:g}",
            "--min-rows": str(settings.min_rows),
            "--report": f"s3://{artifacts}/{config.monitoring.report_prefix}{endpoint.team}/{name}/",
            "--region": config.region,
        }
        pod = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"].endswith(f"/drift:{config.monitoring.image.tag}")
        assert pod["serviceAccountName"] == f"drift-{name}" and pod["automountServiceAccountToken"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert job.inputs["metadata"]["labels"]["mlplatform.io/team"] == endpoint.team
        assert job.inputs["metadata"]["labels"]["mlplatform.io/component"] == "monitoring"


def test_the_job_arguments_are_what_mlp_drift_accepts(stack):
    """The CronJob's command line parses with the real `mlp drift` parser, option for option."""
    parser = build_parser(("drift",))
    for job in _drift_jobs(stack).values():
        (container,) = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        parsed = parser.parse_args(["drift", *container["args"]])
        assert parsed.captures.s3 and parsed.baseline.s3 and parsed.report.s3
        assert parsed.publish is True and parsed.namespace == METRIC_NAMESPACE == DRIFT_NAMESPACE


def test_the_job_role_reaches_only_its_captures_baseline_reports_and_metric_namespace(stack):
    plan = planned(stack)
    run = plan.run
    config = plan.config
    artifacts = f"arn:aws:s3:::{config.datalake.bucket_name('artifacts')}"
    for name in _drift_jobs(stack):
        endpoint = next(e for e in config.endpoints if e.name == name)
        settings = config.monitoring.job_of(name)
        (role,) = [r for r in run.by_type("aws:iam/role:Role") if r.inputs.get("name") == f"{config.name_prefix}-drift-{name}"]
        (policy,) = [json.loads(p.inputs["policy"]) for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
        own = f"{artifacts}/captures/{endpoint.team}/{name}/{config.name_prefix}-{name}/primary/2026/11/29/10/a.jsonl"
        assert allowed(policy, "s3:GetObject", own)
        assert not allowed(policy, "s3:PutObject", own) and not allowed(policy, "s3:DeleteObject", own)
        others = [e for e in config.endpoints if e.name != name]
        for other in others:
            assert not allowed(policy, "s3:GetObject", f"{artifacts}/captures/{other.team}/{other.name}/x.jsonl")
        baseline = f"arn:aws:s3:::{settings.baseline.bucket}/{settings.baseline.key}"
        assert allowed(policy, "s3:GetObject", baseline)
        assert not allowed(policy, "s3:GetObject", f"arn:aws:s3:::{settings.baseline.bucket}/teams/other/data.csv")
        report = f"{artifacts}/{config.monitoring.report_prefix}{endpoint.team}/{name}/2026/11/29/100000Z.json"
        assert allowed(policy, "s3:PutObject", report)
        assert not allowed(policy, "s3:PutObject", f"{artifacts}/{config.monitoring.report_prefix}{endpoint.team}/another/x.json")
        metrics = next(s for s in policy["Statement"] if "cloudwatch:PutMetricData" in s["Action"])
        assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert [s["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] for s in trust] == [f"drift-{name}"]
        assert [s["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] for s in trust] == [endpoint.team]


def test_drift_alarms_notify_the_alert_topic_and_the_owning_team(stack):
    plan = planned(stack)
    run = plan.run
    config = plan.config
    (budget_topic,) = [t for t in run.by_type("aws:sns/topic:Topic") if t.inputs.get("name") == f"{config.name_prefix}-budget-alerts"]
    team_topics = {t.inputs["name"]: t for t in run.by_type("aws:sns/topic:Topic") if t.inputs.get("name", "").endswith("-drift-alerts")}
    alarms = {a.inputs["dimensions"]["EndpointName"]: a for a in run.by_type(ALARM) if a.inputs.get("namespace") == METRIC_NAMESPACE}
    assert set(alarms) == set(_drift_jobs(stack))
    for name, alarm in alarms.items():
        endpoint = next(e for e in config.endpoints if e.name == name)
        team_topic = team_topics[f"{config.name_prefix}-{endpoint.team}-drift-alerts"]
        assert alarm.inputs["alarmActions"] == [budget_topic.outputs["arn"], team_topic.outputs["arn"]]
        assert alarm.inputs["metricName"] == DRIFT_METRIC and alarm.inputs["threshold"] == 1
        assert alarm.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm.inputs["treatMissingData"] == "notBreaching"
        assert alarm.inputs["tags"]["Team"] == endpoint.team
        subscribed = sorted(s.inputs["endpoint"] for s in run.by_type("aws:sns/topicSubscription:TopicSubscription")
                            if s.inputs["topic"] == team_topic.outputs["arn"])
        assert subscribed == sorted(config.monitoring.alert_emails_of(endpoint.team))


def test_the_alarm_watches_a_metric_mlp_drift_publishes():
    """Metric name and dimensions of the alarm are exactly those of a drift run's datapoint."""
    from datetime import datetime, timezone

    from mlp.drift.publish import DriftResult
    from mlp.drift.stats import FeatureDrift

    result = DriftResult("demand-forecast", None, datetime(2026, 11, 29, tzinfo=timezone.utc), 500, 500, 0, 0, 100, 0.2, 0.001,
                         (FeatureDrift("price", 0.5, 0.3, 1e-9, 100, 500, True),))
    (datapoint,) = [d for d in metric_data(result) if d["MetricName"] == DRIFT_METRIC]
    assert datapoint["Dimensions"] == [{"Name": "EndpointName", "Value": "demand-forecast"}] and datapoint["Value"] == 1.0


def test_cloudwatch_may_publish_encrypted_to_both_topics_for_this_account_only(stack):
    plan = planned(stack)
    run = plan.run
    policies = {p.inputs["arn"]: json.loads(p.inputs["policy"]) for p in run.by_type("aws:sns/topicPolicy:TopicPolicy")}
    topics = [t for t in run.by_type("aws:sns/topic:Topic") if t.inputs.get("name", "").endswith(("-drift-alerts", "-budget-alerts"))]
    keys = {k.outputs["arn"]: json.loads(k.inputs["policy"]) for k in run.by_type("aws:kms/key:Key") if "policy" in k.inputs}
    for topic in topics:
        statements = [s for s in policies[topic.outputs["arn"]]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
        assert [s["Condition"] for s in statements] == [
            {"StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:*:{MOCK_ACCOUNT_ID}:alarm:*"}}]
        key_statements = [s for s in keys[topic.inputs["kmsMasterKeyId"]]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
        assert len(key_statements) == 1 and set(key_statements[0]["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
