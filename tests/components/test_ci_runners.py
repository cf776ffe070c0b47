"""The CI runner of staging and prod: a CodeBuild project in the private subnets that GitHub's
queued workflow jobs start, able to reach the private API endpoint and nothing that matters."""

from __future__ import annotations

import json

import pytest

from components.ci_runners import runner_project_name
from tests.conftest import planned

RUNNER_STACKS = ("staging", "prod")


def runner(stack: str, type_token: str):
    found = [r for r in planned(stack).resources if r.type == type_token and "CiRunner" in r.urn]
    assert len(found) == 1, [r.urn for r in found]
    return found[0]


@pytest.mark.parametrize("stack", RUNNER_STACKS)
def test_the_project_runs_github_jobs_in_the_private_subnets(stack):
    config = planned(stack).config
    project = runner(stack, "aws:codebuild/project:Project")
    assert project.inputs["name"] == runner_project_name("mlplatform", stack) == f"mlplatform-{stack}-ci-runner"
    source = project.inputs["source"]
    assert source["type"] == "GITHUB" and source["location"] == f"{config.ci_runner.repository_url}.git"
    assert source["auth"] == {"type": "CODECONNECTIONS", "resource": config.ci_runner.connection_arn}
    vpc = project.inputs["vpcConfig"]
    network = [r for r in planned(stack).resources if r.type == "aws:ec2/subnet:Subnet" and "private" in r.name]
    assert len(vpc["subnets"]) == len(config.network.private_subnet_cidrs) == len(network)
    assert project.inputs["environment"]["computeType"] == config.ci_runner.compute_type
    assert project.inputs["environment"]["privilegedMode"] is False
    assert project.inputs["logsConfig"]["cloudwatchLogs"]["status"] == "ENABLED"


@pytest.mark.parametrize("stack", RUNNER_STACKS)
def test_the_webhook_starts_a_runner_per_queued_workflow_job(stack):
    webhook = runner(stack, "aws:codebuild/webhook:Webhook")
    assert webhook.inputs["buildType"] == "BUILD"
    assert webhook.inputs["filterGroups"] == [{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}]


@pytest.mark.parametrize("stack", RUNNER_STACKS)
def test_the_runner_reaches_the_api_endpoint_and_only_https_out(stack):
    group = runner(stack, "aws:ec2/securityGroup:SecurityGroup")
    assert not group.inputs.get("ingress")
    assert [(e["protocol"], e["fromPort"], e["toPort"]) for e in group.inputs["egress"]] == [("tcp", 443, 443)]
    rule = runner(stack, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 443, 443)
    cluster = next(r for r in planned(stack).resources if r.type == "aws:eks/cluster:Cluster")
    assert rule.inputs["securityGroupId"] == cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert "cidrIpv4" not in rule.inputs


@pytest.mark.parametrize("stack", RUNNER_STACKS)
def test_the_runners_role_grants_nothing_of_the_platform(stack):
    role = runner(stack, "aws:iam/role:Role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"} and "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    policy = json.loads(runner(stack, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    actions = {a for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {a.split(":")[0] for a in actions} == {"logs", "ec2", "codeconnections", "codestar-connections"}
    assert not any(a.startswith(("iam:", "sts:", "eks:", "s3:")) for a in actions)


def test_dev_has_no_runner():
    assert not [r for r in planned("dev").resources if "CiRunner" in r.urn]
