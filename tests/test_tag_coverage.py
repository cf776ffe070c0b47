"""The cost-tag contract over every recorded resource of every stack.

The check merges the AWS provider's default tags (recorded JSON-encoded on the provider
resource, as the engine passes them) with each resource's own tags, as the real provider does,
so it does not trust the plan's own `tagsAll` bookkeeping.
"""

import json

from components.tagging import LABEL_FOR_TAG, REQUIRED_TAG_KEYS, is_taggable
from tests.conftest import planned


def _effective_tags(run):
    providers = {}
    for resource in run.resources:
        if resource.type == "pulumi:providers:aws":
            providers[f"{resource.urn}::{resource.id}"] = json.loads(resource.inputs["defaultTags"])["tags"]
    for resource in run.resources:
        if resource.custom and resource.type.startswith("aws:"):
            yield resource, {**providers.get(resource.provider, {}), **(resource.inputs.get("tags") or {})}


def test_every_aws_resource_uses_the_explicit_tagged_provider(stack):
    run = planned(stack).run
    providers = [r for r in run.resources if r.type == "pulumi:providers:aws"]
    provider_refs = {f"{r.urn}::{r.id}" for r in providers}
    # One provider per region the stack needs (the stack's own; us-east-1 for services that answer
    # only there, such as Data Exports), all with the same stack-wide default tags.
    regions = [r.inputs.get("region") for r in providers]
    assert len(regions) == len(set(regions)) and planned(stack).config.region in regions
    assert len({r.inputs["defaultTags"] for r in providers}) == 1
    untagged_provider = [r.urn for r in run.resources if r.custom and r.type.startswith("aws:") and r.provider not in provider_refs]
    assert untagged_provider == []


def test_every_taggable_aws_resource_carries_all_six_keys(stack):
    plan = planned(stack)
    checked = 0
    failures = []
    for resource, tags in _effective_tags(plan.run):
        if not is_taggable(resource.type):
            continue
        checked += 1
        missing = [key for key in REQUIRED_TAG_KEYS if not tags.get(key)]
        if missing:
            failures.append(f"{resource.urn} lacks {missing}")
        elif tags["Environment"] != stack or tags["ManagedBy"] != "pulumi" or tags["Project"] != plan.config.project:
            failures.append(f"{resource.urn} has wrong stack-wide tags {tags}")
    assert failures == []
    assert checked >= 30  # the check really looked at the stack's resources


def test_team_tags_name_a_configured_team_or_the_platform_team(stack):
    plan = planned(stack)
    allowed = set(plan.config.team_names) | {plan.config.platform_team}
    for resource, tags in _effective_tags(plan.run):
        if is_taggable(resource.type):
            assert tags["Team"] in allowed, resource.urn


def test_kubernetes_objects_carry_the_cost_labels(stack):
    run = planned(stack).run
    for resource in run.resources:
        metadata = resource.inputs.get("metadata") if resource.type.startswith("kubernetes:") else None
        if isinstance(metadata, dict) and not resource.type.startswith("kubernetes:helm.sh"):
            labels = metadata.get("labels") or {}
            assert all(labels.get(label) for label in LABEL_FOR_TAG.values()), resource.urn


def test_plan_reports_full_coverage(stack):
    plan = planned(stack)
    assert plan.tag_coverage.missing == {} and plan.tag_coverage.checked >= 30
    assert plan.label_coverage.missing == {}
