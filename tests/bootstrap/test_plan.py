"""The bootstrap project planned offline: the state bucket and key are locked down and protected,
and each deploy role trusts only its environment on its branch and may only do what its stack
declares."""

from __future__ import annotations

import json

import pytest
import yaml

from bootstrap import permissions
from bootstrap.plan import main as plan_main
from bootstrap.plan import run
from mlp import PROJECT_ROOT

REPOSITORY = "acme/mlplatform"


@pytest.fixture(scope="module")
def planned():
    return run("main")


def one(planned, type_token: str, name: str | None = None):
    found = [r for r in planned.resources if r.type == type_token and (name is None or r.name == name)]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def test_the_state_bucket_is_versioned_encrypted_private_and_protected(planned):
    bucket = one(planned, "aws:s3/bucket:Bucket")
    assert bucket.protect and bucket.retain_on_delete and bucket.inputs["bucket"] == "acme-mlplatform-pulumi-state"
    assert bucket.inputs.get("forceDestroy") is False
    versioning = one(planned, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled" and versioning.protect
    (rule,) = one(planned, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs["rules"]
    key = one(planned, "aws:kms/key:Key")
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}
    block = one(planned, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert one(planned, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    policy = json.loads(one(planned, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    tls, principals = policy["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allowed = principals["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    deploy_roles = [r.outputs["arn"] for r in planned.resources if r.type == "aws:iam/role:Role" and r.name.endswith("-deployer")]
    assert principals["Effect"] == "Deny" and set(deploy_roles) <= set(allowed) and "arn:aws:iam::123456789012:role/PlatformAdmins" in allowed


def test_the_secrets_key_rotates_and_is_protected(planned):
    key = one(planned, "aws:kms/key:Key")
    assert key.protect and key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    assert one(planned, "aws:kms/alias:Alias").inputs["name"] == "alias/mlplatform-pulumi-secrets"


def test_github_oidc_provider(planned):
    provider = one(planned, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com" and provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_deploy_role_is_the_one_its_stack_names_and_trusts_only_its_environment_on_main(planned, stack):
    role = one(planned, "aws:iam/role:Role", f"mlplatform-bootstrap-{stack}-deployer")
    stack_file = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert stack_file["mlplatform:cluster"]["deployRoleArn"].rsplit("/", 1)[1] == role.inputs["name"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:{stack}:ref:refs/heads/main",
    }}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_preview_role_trusts_pull_requests_in_its_preview_environment_and_only_reads(planned, stack):
    role = one(planned, "aws:iam/role:Role", f"mlplatform-bootstrap-{stack}-preview")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"]["StringLike"] == {"token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:{stack}-preview:ref:refs/pull/*/merge"}
    policy = json.loads(one(planned, "aws:iam/rolePolicy:RolePolicy", f"mlplatform-bootstrap-{stack}-preview").inputs["policy"])
    actions = [a for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    writes = {a for a in actions if not a.split(":")[1].startswith(permissions.READ_VERBS)}
    # A preview writes only its stack's lock (S3) and decrypts config secrets.
    assert writes <= {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"}
    lock = next(s for s in policy["Statement"] if s["Sid"] == "WriteState")
    assert lock["Resource"] == [f"arn:aws:s3:::acme-mlplatform-pulumi-state/.pulumi/locks/mlplatform/{stack}/*"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_deploy_policies_fit_iam_and_grant_only_mapped_actions(planned, stack):
    attached = [r for r in planned.resources if r.type == "aws:iam/policy:Policy" and r.name.startswith(f"mlplatform-bootstrap-{stack}-deploy-")]
    assert 1 <= len(attached) <= 9  # with the state policy, within IAM's 10 managed policies per role
    mapped = set(permissions.mapping()["common"]).union(*permissions.mapping()["types"].values())
    for policy in attached:
        document = policy.inputs["policy"]
        assert len(document) <= permissions.MAX_POLICY_CHARS
        for statement in json.loads(document)["Statement"]:
            for action in statement["Action"]:
                assert action in mapped and "*" not in action
            if any(a.startswith("iam:") and a != "iam:GetAccountAlias" for a in statement["Action"]):
                assert statement["Resource"] != "*", statement["Sid"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_cost_report_role_trusts_its_billing_environment_and_only_reads_billing(planned, stack):
    role = one(planned, "aws:iam/role:Role", f"mlplatform-bootstrap-{stack}-cost-report")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        f"repo:{REPOSITORY}:environment:billing-{stack}:ref:refs/heads/main"
    policy = json.loads(one(planned, "aws:iam/rolePolicy:RolePolicy", f"mlplatform-bootstrap-{stack}-cost-report").inputs["policy"])
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    writes = [a for a in actions if not a.split(":")[1].startswith((*permissions.READ_VERBS, "View"))]
    assert writes == ["athena:StartQueryExecution", "s3:PutObject"]  # a query, and its results under athena-results/
    results = next(s for s in policy["Statement"] if s["Sid"] == "WriteQueryResults")
    assert results["Resource"] == "arn:aws:s3:::acme-mlplatform-billing-exports/athena-results/*"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_image_push_role_pushes_only_to_its_stacks_repositories(planned, stack):
    role = one(planned, "aws:iam/role:Role", f"mlplatform-bootstrap-{stack}-image-push")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == f"repo:{REPOSITORY}:environment:{stack}:ref:refs/heads/main"
    policy = json.loads(one(planned, "aws:iam/rolePolicy:RolePolicy", f"mlplatform-bootstrap-{stack}-image-push").inputs["policy"])
    push = next(s for s in policy["Statement"] if s["Sid"] == "Push")
    region = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"]
    assert push["Resource"] == f"arn:aws:ecr:{region}:123456789012:repository/mlplatform-{stack}/*" and "ecr:PutImage" in push["Action"]
    assert all(s["Resource"] != "*" or s["Action"] in (["ecr:GetAuthorizationToken"], ["inspector2:ListFindings"]) for s in policy["Statement"])


def test_every_taggable_resource_carries_the_bootstrap_tags(planned):
    provider = one(planned, "pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"] if isinstance(provider.inputs["defaultTags"], str) else provider.inputs["defaultTags"]["tags"]
    assert tags == {"CostCenter": "CC-4000-ML-PLATFORM", "Environment": "shared", "Project": "mlplatform", "Team": "ml-platform",
                    "Component": "bootstrap", "ManagedBy": "pulumi"}
    assert all(r.provider.startswith(provider.urn) for r in planned.resources if r.custom and not r.type.startswith("pulumi:"))


def test_the_plan_command_prints_and_writes_an_export(tmp_path, capsys):
    out = tmp_path / "bootstrap.json"
    assert plan_main(["main", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "aws:s3/bucket:Bucket" in printed and "deploy policies, the largest" in printed
    document = json.loads(out.read_text())
    assert document["version"] == 3 and any(r["type"] == "aws:kms/key:Key" and r.get("protect") for r in document["deployment"]["resources"])


@pytest.mark.parametrize("edit, key", [
    (lambda s: s.update(repository="not a repo"), "repository"),
    (lambda s: s.pop("stateBucket"), "stateBucket"),
    (lambda s: s.update(environments=[{"name": "qa"}]), "environments"),
    (lambda s: s.update(subjectClaims="anything"), "subjectClaims"),
])
def test_a_bad_setting_is_exit_2_naming_the_key(edit, key, tmp_path, capsys):
    document = yaml.safe_load((PROJECT_ROOT / "bootstrap" / "Pulumi.main.yaml").read_text())
    edit(document["config"]["mlplatform-bootstrap:settings"])
    path = tmp_path / "Pulumi.main.yaml"
    path.write_text(yaml.safe_dump(document))
    assert plan_main(["main", "--config-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bootstrap plan: ") and key in err and err.count("\n") == 1
