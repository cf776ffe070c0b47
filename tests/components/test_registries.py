"""Registries per stack: ECR repositories scan on push, are KMS-encrypted, immutable where the stack
says so, carry valid lifecycle JSON and pull access only for the accounts each repository names; one
SageMaker model package group per model family, with the models zone as artifact store, registered
by each team's own pods and approved only by the configured approvers; all cost-tagged."""

from __future__ import annotations

import json

import pytest

from components.registries import ECR_PULL_ACTIONS, MODEL_ARTIFACT_PREFIX, MODEL_PUBLISHER_SERVICE_ACCOUNT
from components.tagging import REQUIRED_TAG_KEYS
from mlp.cli import main
from mlp.errors import UserError
from mlp.plan import plan_stack
from tests.conftest import STACKS, planned, stack_default_tags, stack_yaml

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
MODEL_GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"


def _repositories(stack):
    """Recorded ECR repositories keyed by their short name (`notebook`, ...)."""
    prefix = planned(stack).config.name_prefix + "/"
    return {r.inputs["name"].removeprefix(prefix): r for r in planned(stack).run.by_type(REPOSITORY)}


def _by_repository(stack, type_token):
    prefix = planned(stack).config.name_prefix + "/"
    return {r.inputs["repository"].removeprefix(prefix): r for r in planned(stack).run.by_type(type_token)}


def test_one_repository_per_configured_image_family(stack):
    config = planned(stack).config
    assert set(_repositories(stack)) == set(config.registries.repository_names)
    assert {"notebook", "rstudio", "training", "serving", "gpu-agent"} <= set(_repositories(stack))


def test_every_repository_scans_on_push(stack):
    for name, repository in _repositories(stack).items():
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}, name


def test_tags_are_immutable_outside_dev_as_the_stack_files_say():
    mutability = {stack: {r.inputs["imageTagMutability"] for r in _repositories(stack).values()} for stack in STACKS}
    assert mutability == {"dev": {"MUTABLE"}, "staging": {"IMMUTABLE"}, "prod": {"IMMUTABLE"}}


def test_mutability_follows_stack_data_not_the_environment(plan_edited):
    def make_mutable(config):
        config["mlplatform:registries"]["immutableTags"] = False

    plan = plan_edited("prod", make_mutable)
    assert {r.inputs["imageTagMutability"] for r in plan.run.by_type(REPOSITORY)} == {"MUTABLE"}


def test_repositories_are_encrypted_with_the_lakes_rotated_protected_key(stack):
    run = planned(stack).run
    lake_key = run.find("aws:kms/key:Key", "mlplatform-datalake-key")
    assert lake_key.inputs["enableKeyRotation"] is True
    assert lake_key.protect is planned(stack).config.datalake.protect
    for name, repository in _repositories(stack).items():
        (encryption,) = repository.inputs["encryptionConfigurations"]
        assert encryption == {"encryptionType": "KMS", "kmsKey": lake_key.outputs["arn"]}, name


def _check_lifecycle_rules(document: dict) -> None:
    """ECR's lifecycle policy rules (AWS "Lifecycle policy properties"), checked one by one."""
    assert set(document) == {"rules"} and document["rules"]
    priorities = [rule["rulePriority"] for rule in document["rules"]]
    assert len(set(priorities)) == len(priorities), "rulePriority must be unique"
    for rule in document["rules"]:
        assert set(rule) <= {"rulePriority", "description", "selection", "action"}
        assert isinstance(rule["rulePriority"], int) and rule["rulePriority"] >= 1
        assert rule["action"] == {"type": "expire"}
        selection = rule["selection"]
        assert selection["tagStatus"] in ("tagged", "untagged", "any")
        if selection["tagStatus"] == "tagged":
            assert selection.get("tagPatternList") or selection.get("tagPrefixList"), "tagged rules need a tag list"
            assert not (selection.get("tagPatternList") and selection.get("tagPrefixList"))
            for tag_pattern in selection.get("tagPatternList", []):
                assert tag_pattern.count("*") <= 4
        else:
            assert "tagPatternList" not in selection and "tagPrefixList" not in selection
        if selection["tagStatus"] == "any":
            assert rule["rulePriority"] == max(priorities), "an 'any' rule must be evaluated last"
        assert selection["countType"] in ("imageCountMoreThan", "sinceImagePushed")
        if selection["countType"] == "sinceImagePushed":
            assert selection.get("countUnit") == "days"
        else:
            assert "countUnit" not in selection
        assert isinstance(selection["countNumber"], int) and selection["countNumber"] >= 1


def test_every_repository_has_a_valid_lifecycle_policy_matching_config(stack):
    policies = _by_repository(stack, LIFECYCLE)
    config = planned(stack).config.registries
    assert set(policies) == set(config.repository_names)
    for repository in config.repositories:
        document = json.loads(policies[repository.name].inputs["policy"])
        _check_lifecycle_rules(document)
        by_status = {rule["selection"]["tagStatus"]: rule["selection"] for rule in document["rules"]}
        assert by_status["untagged"]["countType"] == "sinceImagePushed"
        assert by_status["untagged"]["countNumber"] == repository.untagged_expiry_days
        assert by_status["tagged"]["countType"] == "imageCountMoreThan"
        assert by_status["tagged"]["countNumber"] == repository.keep_tagged_images
        assert by_status["tagged"]["tagPatternList"] == ["*"]


def test_per_repository_overrides_reach_the_lifecycle_policy():
    policies = _by_repository("prod", LIFECYCLE)
    kept = {name: json.loads(p.inputs["policy"])["rules"][1]["selection"]["countNumber"] for name, p in policies.items()}
    assert kept["serving"] == 200 and kept["gpu-agent"] == 20 and kept["notebook"] == 100


def test_lifecycle_check_rejects_broken_rules():
    broken = [
        {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]},
        {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 5}, "action": {"type": "expire"}}]},
        {"rules": [
            {"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}},
            {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}},
        ]},
    ]
    for document in broken:
        with pytest.raises(AssertionError):
            _check_lifecycle_rules(document)


def test_pull_access_only_for_configured_accounts_per_repository(stack):
    config = planned(stack).config.registries
    policies = _by_repository(stack, REPOSITORY_POLICY)
    assert set(policies) == {repository.name for repository in config.repositories if repository.pull_account_ids}
    for repository in config.repositories:
        if not repository.pull_account_ids:
            continue
        (statement,) = json.loads(policies[repository.name].inputs["policy"])["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{account}:root" for account in repository.pull_account_ids]}
        assert sorted(statement["Action"]) == sorted(ECR_PULL_ACTIONS)
        assert not any("Put" in action or "Delete" in action or "*" in action for action in statement["Action"])


def test_prod_shares_only_serving_images_with_the_analytics_account():
    """The stack file shares serving images; every other repository stays private to the account."""
    assert set(_by_repository("prod", REPOSITORY_POLICY)) == {"serving"}
    (serving,) = [r for r in planned("prod").config.registries.repositories if r.name == "serving"]
    assert serving.pull_account_ids == ("210987654321",)


def test_a_registry_wide_pull_list_is_refused_with_where_it_moved(write_stack):
    document = stack_yaml("prod")
    document["config"]["mlplatform:registries"]["pullAccountIds"] = ["210987654321"]
    with pytest.raises(UserError) as error:
        plan_stack("prod", str(write_stack("prod", document)))
    assert error.value.key == "mlplatform:registries.pullAccountIds" and "repositories[].pullAccountIds" in error.value.message


def test_one_model_package_group_per_model_family(stack):
    config = planned(stack).config
    groups = {r.inputs["modelPackageGroupName"]: r for r in planned(stack).run.by_type(MODEL_GROUP)}
    expected = {f"{config.name_prefix}-{group.name}": group for group in config.registries.model_package_groups}
    assert set(groups) == set(expected) and groups
    for name, group in expected.items():
        assert groups[name].inputs["modelPackageGroupDescription"] == group.description
        assert groups[name].inputs["tags"]["Team"] == group.team
        assert groups[name].inputs["tags"]["Component"] == "registries"


def _role(stack, name):
    return planned(stack).run.find("aws:iam/role:Role", name)


def _inline_policy(stack, role):
    (policy,) = [p for p in planned(stack).run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_each_team_registers_its_own_families_pending_approval_from_its_own_pods(stack):
    plan = planned(stack)
    run = plan.run
    models_bucket = plan.config.datalake.bucket_name("models")
    groups = {r.inputs["modelPackageGroupName"]: r for r in run.by_type(MODEL_GROUP)}
    families_by_team = {}
    for group in plan.config.registries.model_package_groups:
        families_by_team.setdefault(group.team, []).append(group.name)
    assert families_by_team
    associations = {(a.inputs["namespace"], a.inputs["serviceAccount"]): a for a in run.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")}
    accounts = {(a.inputs["metadata"]["namespace"], a.inputs["metadata"]["name"]): a for a in run.by_type("kubernetes:core/v1:ServiceAccount")}
    for team, families in families_by_team.items():
        role = _role(stack, f"mlplatform-registries-register-{team}")
        (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] == team
        assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == MODEL_PUBLISHER_SERVICE_ACCOUNT
        assert associations[(team, MODEL_PUBLISHER_SERVICE_ACCOUNT)].inputs["roleArn"] == role.outputs["arn"]
        assert accounts[(team, MODEL_PUBLISHER_SERVICE_ACCOUNT)].inputs["automountServiceAccountToken"] is False
        statements = _inline_policy(stack, role)
        assert statements["ReadWriteModelArtifacts"]["Resource"] == [f"arn:aws:s3:::{models_bucket}/{MODEL_ARTIFACT_PREFIX}{family}/*" for family in families]
        own_groups = [groups[f"{plan.config.name_prefix}-{family}"].outputs["arn"] for family in families]
        register = statements["RegisterPendingVersions"]
        assert register["Action"] == ["sagemaker:CreateModelPackage"]
        assert set(own_groups) <= set(register["Resource"]) and len(register["Resource"]) == 2 * len(own_groups)
        assert register["Condition"] == {"StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
        # Registering never approves, and never touches another team's artifacts.
        actions = {action for s in statements.values() for action in s["Action"]}
        assert "sagemaker:UpdateModelPackage" not in actions
        assert not any(action == "*" or action.endswith(":*") for action in actions)
    assert not [r for r in run.by_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-model-registry")]


def test_only_the_configured_approvers_approve_and_approving_writes_nothing(stack):
    plan = planned(stack)
    role = _role(stack, "mlplatform-registries-model-approver")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": sorted(plan.config.registries.model_approver_role_arns)}
    statements = _inline_policy(stack, role)
    decide = statements["DecideOnVersions"]
    assert decide["Action"] == ["sagemaker:UpdateModelPackage"]
    assert decide["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": ["Approved", "Rejected"]}}
    actions = {action for s in statements.values() for action in s["Action"]}
    assert not any(action.startswith(("s3:", "kms:")) or action == "sagemaker:CreateModelPackage" for action in actions)


def test_without_approvers_there_is_no_approver_role(plan_edited):
    plan = plan_edited("dev", lambda config: config["mlplatform:registries"].pop("modelApproverRoleArns"))
    assert not [r for r in plan.run.by_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-model-approver")]


def test_every_registries_resource_carries_the_cost_tags(stack):
    run = planned(stack).run
    default_tags = stack_default_tags(stack)
    taggable = [r for r in run.resources if r.type in (REPOSITORY, MODEL_GROUP, "aws:iam/role:Role") and "registries" in r.name]
    assert len(taggable) >= len(planned(stack).config.registries.repositories) + 1
    for resource in taggable:
        tags = {**default_tags, **resource.inputs["tags"]}
        assert all(tags.get(key) for key in REQUIRED_TAG_KEYS), resource.urn
        assert tags["Component"] == "registries"


# ---- bad config --------------------------------------------------------------------------------


def _edited(stack, edit):
    document = stack_yaml(stack)
    edit(document["config"]["mlplatform:registries"])
    return document


BAD_REGISTRIES = [
    (lambda r: r["repositories"][0].update(scanOnPush=False), "mlplatform:registries.repositories[0].scanOnPush", "unknown key"),
    (lambda r: r["repositories"].append({"name": "notebook"}), "mlplatform:registries.repositories[6].name", "duplicate repository"),
    (lambda r: r["repositories"][1].update(name="RStudio"), "mlplatform:registries.repositories[1].name", "repository name"),
    (lambda r: r.update(untaggedExpiryDays=0), "mlplatform:registries.untaggedExpiryDays", ">= 1"),
    (lambda r: r.update(keepTaggedImages=-3), "mlplatform:registries.keepTaggedImages", ">= 1"),
    (lambda r: r["repositories"][3].update(pullAccountIds=["12345"]), "mlplatform:registries.repositories[3].pullAccountIds[0]", "12-digit"),
    (lambda r: r.update(modelApproverRoleArns=["PlatformAdmins"]), "mlplatform:registries.modelApproverRoleArns[0]", "IAM role ARN"),
    (lambda r: r.pop("immutableTags"), "mlplatform:registries.immutableTags", "required"),
    (lambda r: r["modelPackageGroups"][0].update(team="marketing"), "mlplatform:registries.modelPackageGroups[0].team", "configured team"),
    (lambda r: r["modelPackageGroups"][0].update(name="Demand_Forecast"), "mlplatform:registries.modelPackageGroups[0].name", "model family"),
    (lambda r: r["modelPackageGroups"][0].pop("description"), "mlplatform:registries.modelPackageGroups[0].description", "required"),
]


@pytest.mark.parametrize("edit,key,words", BAD_REGISTRIES)
def test_bad_registries_config_is_exit_2_with_one_line(edit, key, words, write_stack, capsys):
    path = write_stack("dev", _edited("dev", edit))
    with pytest.raises(UserError) as error:
        plan_stack("dev", str(path))
    assert error.value.key == key and words in error.value.message
    assert main(["plan", "dev", "--config-file", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and key in stderr and str(path.name) in stderr and "Traceback" not in stderr


# ---- registry-wide settings: enhanced scanning and the pull-through cache (one owner per account and region) ----

SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
CACHE_RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
CREATION_TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"


@pytest.mark.parametrize("stack,owner", [("dev", False), ("staging", True), ("prod", True)])
def test_the_owner_stack_scans_every_repository_with_inspector(stack, owner):
    scanning = planned(stack).run.by_type(SCANNING)
    assert len(scanning) == owner
    if owner:
        (config,) = scanning
        assert config.inputs["scanType"] == "ENHANCED"
        assert config.inputs["rules"] == [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_base_images_are_cached_from_their_public_registries_with_tagged_repositories(stack):
    rules = {r.inputs["ecrRepositoryPrefix"]: r.inputs for r in planned(stack).run.by_type(CACHE_RULE)}
    assert rules["ecr-public"] == {"ecrRepositoryPrefix": "ecr-public", "upstreamRegistryUrl": "public.ecr.aws"}
    assert rules["docker-hub"]["upstreamRegistryUrl"] == "registry-1.docker.io"
    assert ":secret:ecr-pullthroughcache/" in rules["docker-hub"]["credentialArn"]
    assert f":secretsmanager:{planned(stack).config.region}:" in rules["docker-hub"]["credentialArn"]
    templates = {t.inputs["prefix"]: t.inputs for t in planned(stack).run.by_type(CREATION_TEMPLATE)}
    assert set(templates) == set(rules)
    for template in templates.values():
        assert template["appliedFors"] == ["PULL_THROUGH_CACHE"]
        # What ECR creates for the cache is billed like the rest of the registries: all six keys.
        assert set(REQUIRED_TAG_KEYS) <= set(template["resourceTags"]) and template["resourceTags"]["Component"] == "registries"
        rules_of_lifecycle = json.loads(template["lifecyclePolicy"])["rules"]
        assert [rule["selection"]["tagStatus"] for rule in rules_of_lifecycle] == ["untagged", "tagged"]


BAD_REGISTRY_SETTINGS = [
    (lambda s: s["pullThroughCache"][1].pop("credentialArn"), "pullThroughCache[1].credentialArn", "only with credentials"),
    (lambda s: s["pullThroughCache"][0].update(credentialArn=s["pullThroughCache"][1]["credentialArn"]), "pullThroughCache[0].credentialArn", "is public"),
    (lambda s: s["pullThroughCache"][1].update(credentialArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-x1"),
     "pullThroughCache[1].credentialArn", "ecr-pullthroughcache/"),
    (lambda s: s.update(scanType="BASIC"), "scanFrequency", "only scans on push"),
    (lambda s: s["pullThroughCache"].append({"upstream": "ecr-public"}), "pullThroughCache[2].prefix", "duplicate pull-through cache prefix"),
    (lambda s: s["pullThroughCache"].append({"upstream": "nvcr"}), "pullThroughCache[2].upstream", "ecr-public"),
]


@pytest.mark.parametrize("edit,key,words", BAD_REGISTRY_SETTINGS)
def test_bad_registry_settings_are_refused_with_their_key(edit, key, words, write_stack):
    document = stack_yaml("staging")
    edit(document["config"]["mlplatform:registries"]["registrySettings"])
    with pytest.raises(UserError) as error:
        plan_stack("staging", str(write_stack("staging", document)))
    assert error.value.key == f"mlplatform:registries.registrySettings.{key}" and words in error.value.message, (error.value.key, error.value.message)
