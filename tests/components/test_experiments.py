"""Experiment tracking: the MLflow server from config, its artifacts in the lake, and IAM scoped to
exactly that server, that prefix and the stack's model package groups."""

from __future__ import annotations

import json

import botocore.session

from components.config.experiments import MAINTENANCE_WINDOW, MLFLOW_VERSION, TRACKING_SERVER_SIZES
from components.experiments import MLFLOW_ACTIONS, registry_resources, tracking_server_arn, tracking_server_name
from mlp.offline import MOCK_ACCOUNT_ID
from tests.components.iam_eval import actions, allowed
from tests.conftest import planned

SERVER = "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer"


def _server(stack):
    (server,) = planned(stack).run.by_type(SERVER)
    return server


def _role_policy(run, role_name: str) -> dict:
    (role,) = [r for r in run.by_type("aws:iam/role:Role") if r.inputs.get("name") == role_name]
    (policy,) = [p for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    return role, json.loads(policy.inputs["policy"])


def test_every_stack_with_real_time_endpoints_tracks_experiments(stack):
    plan = planned(stack)
    assert any(endpoint.serverless is None for endpoint in plan.config.endpoints)
    assert plan.config.experiments is not None
    assert len(plan.run.by_type(SERVER)) == 1


def test_the_server_is_sized_and_maintained_as_configured(stack):
    plan = planned(stack)
    settings = plan.config.experiments
    server = _server(stack).inputs
    assert server["trackingServerName"] == tracking_server_name(plan.config.name_prefix)
    assert server["trackingServerSize"] == settings.tracking_server_size
    assert server["weeklyMaintenanceWindowStart"] == settings.weekly_maintenance_window_start
    assert server["automaticModelRegistration"] is settings.automatic_model_registration
    assert server["artifactStoreUri"] == f"s3://{plan.config.datalake.bucket_name('artifacts')}/{settings.artifact_prefix}"
    role, _ = _role_policy(plan.run, f"{plan.config.name_prefix}-mlflow")
    assert server["roleArn"] == role.outputs["arn"]


def test_config_values_follow_the_sagemaker_api():
    """Sizes, the maintenance window and version patterns are those of CreateMlflowTrackingServer."""
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateMlflowTrackingServer").input_shape
    assert tuple(shape.members["TrackingServerSize"].enum) == TRACKING_SERVER_SIZES
    assert shape.members["WeeklyMaintenanceWindowStart"].metadata["pattern"] == MAINTENANCE_WINDOW
    assert "AutomaticModelRegistration" in shape.members and "ArtifactStoreUri" in shape.members
    import re
    assert re.fullmatch(MLFLOW_VERSION, "2.16") and re.fullmatch(MLFLOW_VERSION, "2.16.2") and not re.fullmatch(MLFLOW_VERSION, "latest")


def test_the_execution_role_reaches_only_its_prefix_the_lake_key_and_the_stack_groups(stack):
    plan = planned(stack)
    prefix = plan.config.name_prefix
    region = plan.config.region
    artifacts = f"arn:aws:s3:::{plan.config.datalake.bucket_name('artifacts')}"
    role, policy = _role_policy(plan.run, f"{prefix}-mlflow")
    store = plan.config.experiments.artifact_prefix
    assert allowed(policy, "s3:PutObject", f"{artifacts}/{store}1/run/artifacts/model.pkl")
    assert allowed(policy, "s3:GetObject", f"{artifacts}/{store}x")
    for outside in (f"{artifacts}/captures/forecasting/x.jsonl", f"{artifacts}/teams/x", f"arn:aws:s3:::{plan.config.datalake.bucket_name('models')}/{store}x"):
        assert not allowed(policy, "s3:GetObject", outside) and not allowed(policy, "s3:PutObject", outside)
    listing = next(s for s in policy["Statement"] if "s3:ListBucket" in s["Action"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{store}*"]}}
    kms = next(s for s in policy["Statement"] if s["Sid"] == "UseLakeKey")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}

    groups = [f"{prefix}-{g.name}" for g in plan.config.registries.model_package_groups]
    group_arn = f"arn:aws:sagemaker:{region}:{MOCK_ACCOUNT_ID}:model-package-group/{groups[0]}"
    assert allowed(policy, "sagemaker:CreateModelPackage", group_arn)
    assert allowed(policy, "sagemaker:CreateModelPackageGroup", group_arn + "-a1b2c3")  # the synced spelling
    assert not allowed(policy, "sagemaker:CreateModelPackageGroup", group_arn + "-other-model")
    assert not allowed(policy, "sagemaker:CreateModelPackage", f"arn:aws:sagemaker:{region}:{MOCK_ACCOUNT_ID}:model-package-group/someone-else")
    assert not allowed(policy, "sagemaker:UpdateModelPackage", group_arn.replace("-group/", "/") + "/1")  # approval stays with the approver
    register = next(s for s in policy["Statement"] if s["Sid"] == "RegisterPendingVersions")
    assert register["Condition"] == {"StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    assert all(not a.endswith("*") for a in actions(policy))


def test_only_sagemaker_acting_for_this_account_assumes_the_role(stack):
    plan = planned(stack)
    role, _ = _role_policy(plan.run, f"{plan.config.name_prefix}-mlflow")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"} and statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID}}


def test_team_data_roles_use_this_server_only_and_write_only_their_artifacts(stack):
    plan = planned(stack)
    run = plan.run
    prefix = plan.config.name_prefix
    server_arn = tracking_server_arn(plan.config.region, MOCK_ACCOUNT_ID, tracking_server_name(prefix))
    other_server = tracking_server_arn(plan.config.region, MOCK_ACCOUNT_ID, "someone-elses-mlflow")
    artifacts = f"arn:aws:s3:::{plan.config.datalake.bucket_name('artifacts')}"
    team_policies = {p.inputs["role"]: json.loads(p.inputs["policy"]) for p in run.by_type("aws:iam/rolePolicy:RolePolicy")
                     if p.inputs.get("name") == "experiment-tracking"}
    assert set(team_policies) == {f"{prefix}-{team}-data" for team in plan.config.team_names}
    for team in plan.config.team_names:
        policy = team_policies[f"{prefix}-{team}-data"]
        for action in ("sagemaker-mlflow:CreateRun", "sagemaker-mlflow:LogBatch", "sagemaker-mlflow:CreateRegisteredModel", "sagemaker-mlflow:AccessUI"):
            assert allowed(policy, action, server_arn) and not allowed(policy, action, other_server)
        assert not allowed(policy, "sagemaker-mlflow:DeleteRegisteredModel", server_arn)
        assert allowed(policy, "s3:PutObject", f"{artifacts}/mlflow/{team}/3/abc/artifacts/model.pkl")
        others = [t for t in plan.config.team_names if t != team]
        assert all(not allowed(policy, "s3:PutObject", f"{artifacts}/mlflow/{other}/x") for other in others)
        assert not allowed(policy, "s3:PutObject", f"{artifacts}/mlflow/1/abc/artifacts/model.pkl")
        assert all(":" in a and not a.endswith("*") for a in actions(policy))


def test_mlflow_actions_are_explicit_and_of_the_mlflow_service():
    assert MLFLOW_ACTIONS and len(set(MLFLOW_ACTIONS)) == len(MLFLOW_ACTIONS)
    assert all(a.startswith("sagemaker-mlflow:") and "*" not in a for a in MLFLOW_ACTIONS)


def test_registry_resources_allow_the_group_and_its_synced_spelling_only():
    groups, versions = registry_resources("us-east-1", "123456789012", ["p-demand"])
    assert groups == ["arn:aws:sagemaker:us-east-1:123456789012:model-package-group/p-demand",
                      "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/p-demand-??????"]
    assert versions[0].endswith(":model-package/p-demand/*")


def test_the_tracking_server_is_priced_by_size_not_free(stack):
    from mlp.cost import estimate
    from mlp.state import resources_from_document

    plan = planned(stack)
    result = estimate(resources_from_document(plan.document, "plan"))
    (cost,) = [c for c in result.costs if c.resource.type == SERVER]
    assert not cost.price_not_found
    expected = cost.totals()[0]
    assert expected > 0
    assert any(plan.config.experiments.tracking_server_size in line.name for line in cost.components)


def test_notebook_servers_get_the_tracking_uri_and_artifact_root(stack):
    plan = planned(stack)
    (release,) = [r for r in plan.run.by_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == "jupyterhub"]
    env = release.inputs["values"]["singleuser"]["extraEnv"]
    prefix = plan.config.name_prefix
    assert env["MLFLOW_TRACKING_URI"] == tracking_server_arn(plan.config.region, MOCK_ACCOUNT_ID, tracking_server_name(prefix))
    assert env["MLFLOW_ARTIFACT_ROOT"] == _server(stack).inputs["artifactStoreUri"]
    assert env["AWS_REGION"] == plan.config.region  # the chart's other settings stay
