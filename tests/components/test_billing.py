"""Billing exports: the CUR 2.0 (split cost allocation) and FOCUS exports, their bucket, table and
workgroup in the one stack that owns account-wide billing, and anomaly alerts in every stack."""

from __future__ import annotations

import json

import pytest

from components.billing import CUR_COLUMNS, athena_names, cur_query, export_location, export_names
from components.config import ConfigError, parse_config
from mlp.finance.athena import QUERY_COLUMNS
from tests.conftest import planned, stack_yaml

OWNER = "prod"


def _of(stack: str, type_token: str):
    return planned(stack).run.by_type(type_token)


@pytest.mark.parametrize("stack,owner", [("dev", False), ("staging", False), ("prod", True)])
def test_only_the_owner_of_account_wide_billing_declares_the_exports(stack, owner):
    assert planned(stack).config.budgets.activate_cost_allocation_tags is owner
    exports = _of(stack, "aws:bcmdata/export:Export")
    assert sorted(e.inputs["export"]["name"] for e in exports) == (sorted(export_names("mlplatform").values()) if owner else [])
    for type_token in ("aws:athena/workgroup:Workgroup", "aws:glue/catalogTable:CatalogTable"):
        assert len(_of(stack, type_token)) == (1 if owner else 0)


def test_the_cur_export_carries_split_cost_allocation_data_as_parquet():
    plan = planned(OWNER)
    (cur,) = [e for e in _of(OWNER, "aws:bcmdata/export:Export") if e.inputs["export"]["name"] == "mlplatform-cur2"]
    (query,) = cur.inputs["export"]["dataQueries"]
    assert query["queryStatement"] == cur_query()
    for column in ("split_line_item_split_cost", "split_line_item_unused_cost", "split_line_item_parent_resource_id", "resource_tags"):
        assert column in query["queryStatement"]
    settings = query["tableConfigurations"]["COST_AND_USAGE_REPORT"]
    assert settings["INCLUDE_SPLIT_COST_ALLOCATION_DATA"] == "TRUE" and settings["INCLUDE_RESOURCES"] == "TRUE"
    assert settings["TIME_GRANULARITY"] == plan.config.billing.time_granularity
    assert settings["BILLING_VIEW_ARN"].endswith(":billingview/primary")
    ((destination,),) = [d["s3Destinations"] for d in cur.inputs["export"]["destinationConfigurations"]]
    assert destination["s3Bucket"] == plan.config.billing.export_bucket_name and destination["s3Region"] == plan.config.region
    assert destination["s3OutputConfigurations"] == [{"compression": "PARQUET", "format": "PARQUET", "outputType": "CUSTOM",
                                                      "overwrite": "OVERWRITE_REPORT"}]
    (focus,) = [e for e in _of(OWNER, "aws:bcmdata/export:Export") if e.inputs["export"]["name"] == "mlplatform-focus"]
    assert focus.inputs["export"]["dataQueries"][0]["queryStatement"].endswith("FROM FOCUS_1_0_AWS")


def test_what_the_report_queries_is_what_the_export_delivers_and_the_table_declares():
    (table,) = _of(OWNER, "aws:glue/catalogTable:CatalogTable")
    declared = {c["name"]: c["type"] for c in table.inputs["storageDescriptor"]["columns"]}
    assert declared == dict(CUR_COLUMNS)
    assert set(QUERY_COLUMNS) <= set(declared)
    names = athena_names("mlplatform")
    assert table.inputs["name"] == names["table"]
    location = export_location(planned(OWNER).config.billing.export_bucket_name, "mlplatform")
    assert table.inputs["parameters"]["storage.location.template"] == f"{location}/BILLING_PERIOD=${{billing_period}}/"
    assert table.inputs["parameters"]["projection.enabled"] == "true"
    assert [k["name"] for k in table.inputs["partitionKeys"]] == ["billing_period"]


def test_the_bucket_admits_only_this_accounts_exports_over_tls():
    plan = planned(OWNER)
    bucket_name = plan.config.billing.export_bucket_name
    (bucket,) = [b for b in _of(OWNER, "aws:s3/bucket:Bucket") if b.inputs["bucket"] == bucket_name]
    policies = [p for p in _of(OWNER, "aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == bucket.outputs.get("id", bucket_name)]
    assert len(policies) == 1
    statements = json.loads(policies[0].inputs["policy"])["Statement"]
    deny, allow = statements
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"]}
    assert allow["Action"] == ["s3:PutObject", "s3:GetBucketPolicy"]
    condition = allow["Condition"]["StringLike"]
    account = condition["aws:SourceAccount"]
    assert condition["aws:SourceArn"] == [f"arn:aws:cur:us-east-1:{account}:definition/*", f"arn:aws:bcm-data-exports:us-east-1:{account}:export/*"]
    # Finance's history survives `pulumi destroy` where the lake does.
    assert bucket.protect and bucket.retain_on_delete


def test_the_bucket_tiers_and_expires_exports_and_query_results():
    billing = planned(OWNER).config.billing
    (bucket,) = [b for b in _of(OWNER, "aws:s3/bucket:Bucket") if b.inputs["bucket"] == billing.export_bucket_name]
    (lifecycle,) = [c for c in _of(OWNER, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                    if c.inputs["bucket"] == bucket.outputs.get("id", billing.export_bucket_name)]
    rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert rules["tier-and-expire-exports"]["transitions"] == [{"days": float(billing.glacier_after_days), "storageClass": "GLACIER_IR"}]
    assert rules["tier-and-expire-exports"]["expiration"] == {"days": float(billing.expire_after_days)}
    assert rules["expire-query-results"]["filter"] == {"prefix": "athena-results/"}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": float(billing.noncurrent_version_expiry_days)}


def test_the_workgroup_encrypts_results_and_caps_each_query():
    billing = planned(OWNER).config.billing
    (workgroup,) = _of(OWNER, "aws:athena/workgroup:Workgroup")
    assert workgroup.inputs["name"] == athena_names("mlplatform")["workgroup"]
    configuration = workgroup.inputs["configuration"]
    assert configuration["enforceWorkgroupConfiguration"] is True
    assert configuration["bytesScannedCutoffPerQuery"] == float(billing.query_scan_limit_bytes) >= 10 * 1024 * 1024
    result = configuration["resultConfiguration"]
    assert result["outputLocation"] == f"s3://{billing.export_bucket_name}/athena-results/"
    assert result["encryptionConfiguration"] == {"encryptionOption": "SSE_S3"}


def test_anomaly_monitors_per_environment_and_team_alert_the_platform_topic(stack):
    plan = planned(stack)
    prefix = plan.config.name_prefix
    monitors = {m.inputs["name"]: m for m in _of(stack, "aws:costexplorer/anomalyMonitor:AnomalyMonitor")}
    assert set(monitors) == {f"{prefix}-environment", *(f"{prefix}-team-{team}" for team in plan.config.team_names)}
    environment = {"Tags": {"Key": "Environment", "MatchOptions": ["EQUALS"], "Values": [stack]}}
    assert json.loads(monitors[f"{prefix}-environment"].inputs["monitorSpecification"]) == environment
    for team in plan.config.team_names:
        monitor = monitors[f"{prefix}-team-{team}"]
        assert monitor.inputs["monitorType"] == "CUSTOM" and monitor.inputs["tags"]["Team"] == team
        assert json.loads(monitor.inputs["monitorSpecification"]) == {"And": [environment, {"Tags": {"Key": "Team", "MatchOptions": ["EQUALS"], "Values": [team]}}]}
    (topic,) = [t for t in _of(stack, "aws:sns/topic:Topic") if t.inputs["name"] == f"{prefix}-budget-alerts"]
    subscriptions = {s.inputs["name"]: s for s in _of(stack, "aws:costexplorer/anomalySubscription:AnomalySubscription")}
    anomalies = plan.config.billing.anomalies
    for name, monitor in monitors.items():
        subscription = subscriptions[name].inputs
        assert subscription["frequency"] == "IMMEDIATE"
        assert subscription["monitorArnLists"] == [monitor.outputs["arn"]]
        assert subscription["subscribers"] == [{"type": "SNS", "address": topic.outputs["arn"]}]
        team = name.removeprefix(f"{prefix}-team-") if "-team-" in name else None
        threshold = anomalies.threshold_of(team) if team else anomalies.environment_threshold_usd
        assert subscription["thresholdExpression"]["dimension"] == {"key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "matchOptions": ["GREATER_THAN_OR_EQUAL"],
                                                                    "values": [f"{threshold:g}"]}


def test_prod_gives_vision_its_own_threshold():
    anomalies = planned("prod").config.billing.anomalies
    assert anomalies.threshold_of("vision") == 200 and anomalies.threshold_of("forecasting") == anomalies.team_threshold_usd


def test_the_alert_topic_and_its_key_admit_cost_anomaly_detection(stack):
    prefix = planned(stack).config.name_prefix
    (topic,) = [t for t in _of(stack, "aws:sns/topic:Topic") if t.inputs["name"] == f"{prefix}-budget-alerts"]
    (policy,) = [p for p in _of(stack, "aws:sns/topicPolicy:TopicPolicy") if p.inputs["arn"] == topic.outputs["arn"]]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    anomaly = statements["CostAnomalyDetectionPublish"]
    assert anomaly["Principal"] == {"Service": "costalerts.amazonaws.com"} and anomaly["Action"] == "SNS:Publish"
    account = anomaly["Condition"]["StringEquals"]["aws:SourceAccount"]
    assert anomaly["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ce::{account}:anomalysubscription/*"}
    keys = [k for k in _of(stack, "aws:kms/key:Key") if "budget alert" in k.inputs.get("description", "")]
    (key,) = keys
    services = {s["Principal"].get("Service") for s in json.loads(key.inputs["policy"])["Statement"]}
    assert {"budgets.amazonaws.com", "costalerts.amazonaws.com"} <= services


@pytest.mark.parametrize("edit,key,words", [
    (lambda c: c["mlplatform:billing"].pop("exportBucketName"), "mlplatform:billing.exportBucketName", "is required in the stack that owns"),
    (lambda c: c.pop("mlplatform:billing"), "mlplatform:billing", "is required in the stack that owns"),
    (lambda c: c["mlplatform:billing"].update(expireAfterDays=300), "mlplatform:billing.expireAfterDays", "must be greater than glacierAfterDays"),
    (lambda c: c["mlplatform:billing"].update(queryScanLimitGb=0.001), "mlplatform:billing.queryScanLimitGb", ">= 0.01"),
    (lambda c: c["mlplatform:billing"]["anomalies"]["teamThresholdsUsd"].update(nobody=5), "mlplatform:billing.anomalies.teamThresholdsUsd.nobody",
     "unknown team"),
])
def test_bad_billing_config_names_its_key(edit, key, words):
    config = stack_yaml("prod")["config"]
    edit(config)
    with pytest.raises(ConfigError) as raised:
        parse_config(config, "prod")
    assert raised.value.key == key and words in str(raised.value)


def test_a_stack_that_does_not_own_account_billing_declares_no_export_bucket():
    config = stack_yaml("dev")["config"]
    config["mlplatform:billing"]["exportBucketName"] = "acme-second-billing"
    with pytest.raises(ConfigError) as raised:
        parse_config(config, "dev")
    assert raised.value.key == "mlplatform:billing.exportBucketName" and "only the stack that owns" in str(raised.value)


def test_mlp_cost_knows_every_billing_resource():
    """Exports and anomaly alerts cost nothing themselves, the workgroup bills its queries' scans
    (usage, capped per query), the catalog table is within Glue's free tier; the bucket is priced."""
    from mlp.cost import estimate, is_known_free

    billing_types = {"aws:bcmdata/export:Export", "aws:glue/catalogTable:CatalogTable",
                     "aws:costexplorer/anomalyMonitor:AnomalyMonitor", "aws:costexplorer/anomalySubscription:AnomalySubscription"}
    assert all(is_known_free(type_token) for type_token in billing_types)
    result = estimate(planned(OWNER).resources)
    assert not (billing_types | {"aws:athena/workgroup:Workgroup"}) & set(result.not_priced_by_type())
    (workgroup,) = [c for c in result.costs if c.resource.type == "aws:athena/workgroup:Workgroup"]
    assert [line.usage_key for line in workgroup.components] == ["monthly_data_scanned_tb"]  # its queries' scans, from the usage file
    bucket_name = planned(OWNER).config.billing.export_bucket_name
    (bucket_cost,) = [c for c in result.costs if c.resource.type == "aws:s3/bucket:Bucket" and c.resource.inputs.get("bucket") == bucket_name]
    assert bucket_cost.priced_type


def test_the_exports_are_managed_in_us_east_1_with_the_stacks_default_tags():
    """Data Exports answers only in us-east-1; prod runs in us-west-2."""
    plan = planned(OWNER)
    providers = {p.urn: p for p in plan.run.by_type("pulumi:providers:aws")}
    (exports_provider,) = [p for p in providers.values() if p.inputs.get("region") == "us-east-1"]
    (stack_provider,) = [p for p in providers.values() if p.inputs.get("region") == plan.config.region]
    assert json.loads(exports_provider.inputs["defaultTags"]) == json.loads(stack_provider.inputs["defaultTags"])
    for export in _of(OWNER, "aws:bcmdata/export:Export"):
        assert export.provider.startswith(exports_provider.urn + "::")
    # Everything else of the stack stays in its own region, and `mlp` still reads that region.
    from mlp.cost import region_of

    assert region_of(plan.resources) == plan.config.region
    (bucket,) = [b for b in _of(OWNER, "aws:s3/bucket:Bucket") if b.inputs["bucket"] == plan.config.billing.export_bucket_name]
    assert bucket.provider.startswith(stack_provider.urn + "::")


def test_a_stack_in_us_east_1_keeps_one_provider(tmp_path, write_stack):
    """The exports need no second provider where the stack itself runs in us-east-1."""
    from mlp.plan import plan_stack

    document = stack_yaml(OWNER)
    document["config"]["aws:region"] = "us-east-1"
    for key, value in list(document["config"].items()):
        if isinstance(value, (dict, list)):
            document["config"][key] = json.loads(json.dumps(value).replace("us-west-2", "us-east-1"))
    plan = plan_stack(OWNER, str(write_stack(OWNER, document)))
    (provider,) = plan.run.by_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-east-1"
    assert all(e.provider.startswith(provider.urn + "::") for e in plan.run.by_type("aws:bcmdata/export:Export"))
