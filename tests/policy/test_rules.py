"""The policy pack's rules: silent on every real stack, loud on each kind of breach."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from components.tagging import CostTagging
from policy.pack import build_policies
from policy.rules import RULES, violations
from tests.conftest import planned

TAGGING = CostTagging("CC-1", "dev", "mlplatform", "ml-platform")
FULL_TAGS = TAGGING.all_tags("compute")


def test_every_real_stack_passes_every_rule(stack):
    found = [(r.urn, v) for r in planned(stack).run.resources for v in violations(r.type, r.inputs)]
    assert found == []


@pytest.mark.parametrize("rule_name", ["cost-tags-on-aws-resources", "aws-provider-default-tags", "launch-templates-imdsv2-and-tags",
                                       "karpenter-node-classes-tagged", "ebs-storage-classes-tagged",
                                       "kubernetes-cost-labels"])
def test_each_rule_meets_real_resources_in_prod(rule_name):
    rule = next(rule for rule in RULES if rule.name == rule_name)
    assert any(rule.applies(r.type) for r in planned("prod").run.resources)


def test_untagged_resource_is_a_violation():
    assert violations("aws:s3/bucket:Bucket", {"bucket": "b"}) == [
        ("cost-tags-on-aws-resources", "missing cost tag 'Team'"),
        ("cost-tags-on-aws-resources", "missing cost tag 'Component'"),
    ]
    assert violations("aws:s3/bucket:Bucket", {"tags": {"Team": "vision", "Component": "gpus"}})[0][1].startswith("Component tag 'gpus'")
    assert violations("aws:s3/bucketPolicy:BucketPolicy", {}) == []  # not taggable


def test_provider_without_stack_wide_tags_is_a_violation():
    props = {"defaultTags": json.dumps({"tags": {"CostCenter": "CC-1", "Environment": "qa", "Project": "mlplatform"}})}
    assert violations("pulumi:providers:aws", props) == [
        ("aws-provider-default-tags", "provider default_tags lack 'ManagedBy'"),
        ("aws-provider-default-tags", "Environment default tag 'qa' is not one of dev, staging, prod"),
    ]


def test_launch_template_needs_imdsv2_and_tags_for_everything_it_launches():
    good = {"metadataOptions": {"httpTokens": "required"}, "tags": {"Team": "t", "Component": "compute"},
            "tagSpecifications": [{"resourceType": kind, "tags": FULL_TAGS} for kind in ("instance", "volume", "network-interface")]}
    assert violations("aws:ec2/launchTemplate:LaunchTemplate", good) == []
    bad = {**good, "metadataOptions": {"httpTokens": "optional"}, "tagSpecifications": good["tagSpecifications"][:1]}
    problems = [p for _, p in violations("aws:ec2/launchTemplate:LaunchTemplate", bad)]
    assert problems[0] == "metadataOptions.httpTokens must be 'required' (IMDSv2)"
    assert any("'volume'" in p for p in problems) and any("'network-interface'" in p for p in problems)


def test_node_class_and_storage_class_need_all_six_tags():
    node_class = {"metadata": {"labels": TAGGING.k8s_labels("compute")},
                  "spec": {"tags": {k: v for k, v in FULL_TAGS.items() if k != "Team"}, "metadataOptions": {"httpTokens": "required"}}}
    assert [p for _, p in violations("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", node_class)] == [
        "spec.tags lack Team: Karpenter's instances, volumes and interfaces would be untagged"]
    storage_class = {"metadata": {"labels": TAGGING.k8s_labels("compute")}, "provisioner": "ebs.csi.aws.com",
                     "parameters": {"encrypted": "true", **TAGGING.ebs_csi_storage_class_parameters("compute")}}
    assert violations("kubernetes:storage.k8s.io/v1:StorageClass", storage_class) == []
    del storage_class["parameters"]["tagSpecification_1"]
    assert violations("kubernetes:storage.k8s.io/v1:StorageClass", storage_class)[0][0] == "ebs-storage-classes-tagged"


def test_kubernetes_objects_carry_cost_labels_and_no_label_a_chart_owns():
    labelled = {"metadata": {"labels": TAGGING.k8s_labels("notebooks", "vision")}}
    assert violations("kubernetes:core/v1:ServiceAccount", labelled) == []
    unprefixed = {"metadata": {"labels": {"cost-center": "CC-1", "environment": "dev", "team": "vision", "component": "notebooks"}}}
    problems = [p for _, p in violations("kubernetes:core/v1:ServiceAccount", unprefixed)]
    assert "metadata.labels lack the cost label 'mlplatform.io/team'" in problems
    assert "metadata.labels set 'component', a key a chart, controller or Kubernetes owns" in problems
    # What a Helm release renders is checked against the chart, not here.
    assert violations("kubernetes:helm.sh/v3:Release", unprefixed) == []


def test_the_pack_reports_each_problem_mandatorily():
    policies = build_policies()
    assert [p.name for p in policies] == [rule.name for rule in RULES]
    assert all(p.enforcement_level.value == "mandatory" for p in policies)
    reported = []
    tags_policy = policies[0]
    args = SimpleNamespace(resource_type="aws:ec2/vpc:Vpc", props={"tags": {"Team": "t"}}, urn="urn:pulumi:dev::p::aws:ec2/vpc:Vpc::v")
    tags_policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert reported == [("missing cost tag 'Component'", args.urn)]
