"""The reviewed mapping from Pulumi type tokens to IAM actions covers every type the platform's
stacks plan, and the committed inventory is what the stacks plan today."""

from __future__ import annotations

import re

import botocore.session
import pytest

from bootstrap import inventory, permissions
from tests.conftest import STACKS, planned

ACTION = re.compile(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+")


@pytest.mark.parametrize("stack", STACKS)
def test_every_type_the_stack_plans_has_reviewed_permissions(stack):
    types = sorted({r.type for r in planned(stack).resources})
    assert permissions.unmapped(types) == [], "add the IAM actions of these types to bootstrap/permissions.yaml (reviewed)"


def test_the_committed_inventory_is_what_the_stacks_plan():
    fresh = inventory.render(inventory.build(planner=planned))
    assert inventory.PLANNED.read_text(encoding="utf-8") == fresh, "stale: run `python -m bootstrap.inventory` and review the diff"


def test_an_unmapped_type_is_refused():
    with pytest.raises(permissions.UnmappedTypes, match="aws:redshift/cluster:Cluster"):
        permissions.actions_for(["aws:s3/bucket:Bucket", "aws:redshift/cluster:Cluster", "kubernetes:core/v1:Namespace"])


def test_every_mapped_action_names_a_real_service_and_no_wildcard():
    session = botocore.session.get_session()
    prefixes = set()
    for service in session.get_available_services():
        metadata = session.get_service_model(service).metadata
        prefixes |= {metadata.get("signingName") or "", metadata.get("endpointPrefix") or ""}
    # IAM prefixes that differ from the API's signing name.
    prefixes |= {"elasticfilesystem", "application-autoscaling", "codeconnections", "codestar-connections", "bcm-data-exports", "cur", "ce"}
    rules = permissions.mapping()
    for action in [*rules["common"], *(a for actions in rules["types"].values() for a in actions)]:
        assert ACTION.fullmatch(action), action
        assert action.split(":")[0] in prefixes, action


def test_iam_actions_are_scoped_to_the_stacks_own_identities():
    stack_inventory = inventory.load()["prod"]
    found = permissions.statements(stack_inventory, "246813579024")
    own = next(s for s in found if s["Sid"] == "OwnIdentities")
    assert "arn:aws:iam::246813579024:role/mlplatform-prod-eks-cluster" in own["Resource"]
    assert all(":role/mlplatform-prod-" in r or ":role/mlplatform-network-flow-logs-*" in r or ":policy/mlplatform-prod-" in r
               or ":instance-profile/mlplatform-prod-" in r or ":oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/*" in r for r in own["Resource"])
    attach = next(s for s in found if s["Sid"] == "AttachOwnAndPlannedPolicies")
    assert "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy" in attach["Condition"]["ArnLike"]["iam:PolicyARN"]
    assert not any("AdministratorAccess" in arn for arn in attach["Condition"]["ArnLike"]["iam:PolicyARN"])
    for statement in found:
        if statement["Resource"] == "*":
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}
            assert not any(a.startswith("iam:") and a != "iam:GetAccountAlias" for a in statement["Action"])


def test_documents_are_split_to_fit():
    big = [{"Sid": "Big", "Effect": "Allow", "Action": [f"s3:GetObjectVersion{i:04d}" for i in range(600)], "Resource": "*"}]
    documents = permissions.policy_documents(big)
    assert len(documents) > 1 and all(len(d) <= permissions.MAX_POLICY_CHARS for d in documents)
