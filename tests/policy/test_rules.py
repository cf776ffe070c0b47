"""The policy pack's rules: silent on every real stack, loud on each kind of breach, the same
through CrossGuard as offline, and listed in docs/policy-rules.md."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from policy import docs
from policy.model import Resource, Stack, StackRule
from policy.pack import build_policies
from policy.rules import ALL_RULES, RULES, check, check_plan, from_plan, rule_named, stack_violations, violations
from tests.conftest import planned
from tests.policy.cases import RESOURCE_CASES, STACK_CASES, TAGGING

# Rules that apply to kinds of resource the platform does not declare today; each stays, for the
# resources a change or a hand-written program may add.
NOT_DECLARED_TODAY = {"efs-encrypted"}


def test_the_pack_has_at_least_forty_rules_each_named_once():
    names = [rule.name for rule in ALL_RULES]
    assert len(names) >= 40
    assert len(set(names)) == len(names)


def test_every_rule_has_a_violating_and_a_passing_case():
    covered = [case.rule for case in RESOURCE_CASES] + [name for name, _, _ in STACK_CASES]
    assert sorted(covered) == sorted(rule.name for rule in ALL_RULES)


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda case: case.rule)
def test_resource_rule_refuses_the_bad_case_and_passes_the_good_one(case):
    rule = rule_named(case.rule)
    assert rule.applies(case.type)
    bad = rule.check(Resource(case.type, case.bad, **case.context))
    assert bad, f"{case.rule} let {case.bad} pass"
    assert rule.check(Resource(case.type, case.good, **case.context)) == []
    # The same problems through the public entry point, named after the rule.
    assert (case.rule, bad[0]) in violations(case.type, case.bad, **case.context)


@pytest.mark.parametrize(("name", "bad", "good"), STACK_CASES, ids=[name for name, _, _ in STACK_CASES])
def test_stack_rule_refuses_the_bad_stack_and_passes_the_good_one(name, bad, good):
    rule = rule_named(name)
    assert isinstance(rule, StackRule)
    assert rule.check(Stack(bad)), f"{name} let the bad stack pass"
    assert rule.check(Stack(good)) == []


def test_every_real_stack_passes_every_rule(stack):
    assert check_plan(planned(stack).run.resources) == []
    assert planned(stack).policy_violations == []


@pytest.mark.parametrize("rule", [rule.name for rule in RULES if rule.name not in NOT_DECLARED_TODAY])
def test_each_resource_rule_meets_real_resources_in_some_stack(rule):
    found = rule_named(rule)
    assert any(found.applies(r.type) for stack in ("dev", "staging", "prod") for r in planned(stack).run.resources)


def test_environment_rules_read_the_environment_from_the_provider():
    resources = from_plan(planned("prod").run.resources)
    cluster = next(r for r in resources if r.type == "aws:eks/cluster:Cluster")
    assert cluster.environment == "prod"
    exposed = Resource(cluster.type, {**cluster.props, "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8"]}},
                       environment="prod")
    assert [name for name, _ in check(exposed)] == ["eks-endpoint-private-in-prod"]
    assert check(Resource(exposed.type, exposed.props, environment="dev")) == []


def test_an_unprotected_prod_bucket_setting_is_found_in_a_real_plan():
    resources = from_plan(planned("prod").run.resources)
    versioning = next(r for r in resources if r.type == "aws:s3/bucketVersioning:BucketVersioning")
    stripped = [Resource(r.type, r.props, urn=r.urn, outputs=r.outputs, environment=r.environment) if r is versioning else r for r in resources]
    found = [(urn, rule) for urn, rule, _ in stack_violations(stripped)]
    assert (versioning.urn, "data-protected-in-prod") in found
    assert (versioning.urn, "protection-covers-dependencies") in found


def test_the_pack_reports_each_problem_mandatorily():
    policies = build_policies()
    assert [p.name for p in policies] == [rule.name for rule in ALL_RULES]
    assert all(p.enforcement_level.value == "mandatory" for p in policies)
    reported = []
    tags_policy = policies[0]
    args = SimpleNamespace(resource_type="aws:ec2/vpc:Vpc", props={"tags": {"Team": "t"}}, urn="urn:pulumi:dev::p::aws:ec2/vpc:Vpc::v",
                           opts=SimpleNamespace(protect=False), provider=None)
    tags_policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert reported == [("missing cost tag 'Component'", args.urn)]


def test_the_pack_reads_the_environment_from_the_provider_crossguard_passes():
    policy = next(p for p in build_policies() if p.name == "eks-endpoint-private-in-prod")
    provider = SimpleNamespace(props={"defaultTags": json.dumps({"tags": TAGGING.default_tags() | {"Environment": "prod"}})})
    args = SimpleNamespace(resource_type="aws:eks/cluster:Cluster", props={"vpcConfig": {"endpointPublicAccess": True}}, urn="urn:c",
                           opts=SimpleNamespace(protect=False), provider=provider)
    reported = []
    policy.validate(args, lambda message, urn=None: reported.append(message))
    assert reported and "prod API server" in reported[0]


def test_stack_policies_follow_crossguard_property_dependencies():
    """CrossGuard names a setting's bucket by property dependency, even while the bucket id is unknown."""
    policy = next(p for p in build_policies() if p.name == "s3-buckets-versioned")

    def policy_resource(kind, urn, props, deps=None):
        return SimpleNamespace(resource_type=kind, urn=urn, props=props, opts=SimpleNamespace(protect=False), provider=None,
                               property_dependencies=deps or {}, dependencies=[])

    bucket = policy_resource("aws:s3/bucket:Bucket", "urn:bucket", {})
    versioning = policy_resource("aws:s3/bucketVersioning:BucketVersioning", "urn:versioning",
                                 {"versioningConfiguration": {"status": "Enabled"}}, {"bucket": [bucket]})
    reported = []
    policy.validate(SimpleNamespace(resources=[bucket, versioning]), lambda message, urn=None: reported.append(urn))
    assert reported == []
    policy.validate(SimpleNamespace(resources=[bucket]), lambda message, urn=None: reported.append(urn))
    assert reported == ["urn:bucket"]


def test_every_awsguard_policy_is_ported_or_explained():
    ported = {rule for rule, _ in docs.AWSGUARD_POLICIES.values() if rule}
    assert ported <= {rule.name for rule in ALL_RULES}
    assert {rule.source for rule in ALL_RULES if rule.source} == {name for name, (rule, _) in docs.AWSGUARD_POLICIES.items() if rule}
    assert len(docs.AWSGUARD_POLICIES) == 28  # every policy of pulumi-policy-aws's src/


def test_the_rule_list_in_the_docs_is_current():
    assert docs.PATH.read_text() == docs.render(), "docs/policy-rules.md is stale: run `python -m policy.docs`"
    assert docs.main(["--check"]) == 0
    assert all(f"`{rule.name}`" in docs.render() for rule in ALL_RULES)
