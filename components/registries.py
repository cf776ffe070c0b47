"""Registries: the container images every environment runs, and the model registry.

Container images: one ECR repository per image family (`<prefix>/notebook`, `<prefix>/serving`,
...). Every repository scans on push, is encrypted with the registry's own KMS key, expires
untagged images after N days and keeps the last N tagged ones, and has immutable tags where the
stack says so (so the image promoted from staging is byte-for-byte the one tested). A repository
is shared with other accounts only where its own `pullAccountIds` says so, and then only for pulls.

Encryption uses the data lake's KMS key rather than a key of its own: that key is already rotated
and, where the stack says `protect`, protected and retained, so prod images can never become
unreadable through a key deletion. ECR keeps image layers in storage that only ECR reaches, so who
may pull is decided by ECR permissions and the repository policy, not by who may use the key; a
second key would add cost and a second lifecycle without narrowing access.

Model registry: one SageMaker model package group per model family, owned by its team. The
models zone of the data lake is the artifact store: a family's artifacts live under
`s3://<models bucket>/registry/<family>/`. Registering and approving are separate:
- each team that owns families gets a register role, used by the team's pipeline pods running as
  the `model-publisher` service account in the team's namespace: it writes artifacts under its own
  families' prefixes and registers versions in its own groups, always pending approval;
- one approver role, assumed by the roles `modelApproverRoleArns` names, approves or rejects
  versions and can neither write artifacts nor register versions.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import RegistriesConfig, RepositoryConfig
from components.config.registries import RegistrySettingsConfig
from components.facts import StackFacts
from components.iam import (
    PodSubject,
    account_id_of,
    pod_identity_trust,
    policy_document,
    via_services,
)
from components.interfaces import ClusterAccess, ImageSource, LakeAccess
from components.tagging import CostTagging

COMPONENT = "registries"
MODEL_ARTIFACT_PREFIX = "registry/"
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
MODEL_PUBLISHER_SERVICE_ACCOUNT = "model-publisher"
PENDING = "PendingManualApproval"
APPROVAL_DECISIONS = ["Approved", "Rejected"]
READ_MODEL_PACKAGES = ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"]


def lifecycle_policy(repository: RepositoryConfig) -> str:
    """ECR lifecycle policy: expire untagged images after N days, keep the newest N tagged images."""
    return json.dumps({
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images {repository.untagged_expiry_days} days after push",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": repository.untagged_expiry_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the last {repository.keep_tagged_images} tagged images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": repository.keep_tagged_images,
                },
                "action": {"type": "expire"},
            },
        ]
    })


def cross_account_pull_policy(account_ids: tuple[str, ...], partition: str = "aws") -> str:
    """Repository policy letting the given accounts pull images, and do nothing else."""
    return policy_document([{
        "Sid": "CrossAccountPull",
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:{partition}:iam::{account}:root" for account in account_ids]},
        "Action": list(ECR_PULL_ACTIONS),
    }])


def package_arns(group_arns: list[str]) -> list[str]:
    """The versions (model packages) of these groups."""
    return [arn.replace(":model-package-group/", ":model-package/") + "/*" for arn in group_arns]


def register_policy(models_bucket_arn: str, lake_key_arn: str, families: list[str], group_arns: list[str], region: str) -> str:
    """Write the team's families' artifacts and register their versions, always pending approval."""
    prefixes = [f"{MODEL_ARTIFACT_PREFIX}{family}/" for family in families]
    return policy_document([
        {"Sid": "ListModelArtifacts", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [models_bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}}},
        {"Sid": "ReadWriteModelArtifacts", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"],
         "Resource": [f"{models_bucket_arn}/{prefix}*" for prefix in prefixes]},
        {"Sid": "UseLakeKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
         "Resource": [lake_key_arn], "Condition": via_services("s3", region=region)},
        {"Sid": "RegisterPendingVersions", "Effect": "Allow", "Action": ["sagemaker:CreateModelPackage"],
         "Resource": group_arns + package_arns(group_arns),
         "Condition": {"StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": PENDING}}},
        {"Sid": "ReadAndTagVersions", "Effect": "Allow", "Action": [*READ_MODEL_PACKAGES, "sagemaker:AddTags"],
         "Resource": group_arns + package_arns(group_arns)},
    ])


def approver_policy(group_arns: list[str]) -> str:
    """Approve or reject versions of the platform's groups; nothing else."""
    return policy_document([
        {"Sid": "DecideOnVersions", "Effect": "Allow", "Action": ["sagemaker:UpdateModelPackage"], "Resource": package_arns(group_arns),
         "Condition": {"StringEquals": {"sagemaker:ModelApprovalStatus": APPROVAL_DECISIONS}}},
        {"Sid": "ReadVersions", "Effect": "Allow", "Action": list(READ_MODEL_PACKAGES), "Resource": group_arns + package_arns(group_arns)},
    ])


def approver_trust_policy(role_arns: tuple[str, ...]) -> str:
    return policy_document([{"Sid": "ConfiguredApprovers", "Effect": "Allow", "Principal": {"AWS": sorted(role_arns)}, "Action": "sts:AssumeRole"}])


class Registries(pulumi.ComponentResource):
    def __init__(self, name: str, settings: RegistriesConfig, facts: StackFacts, tagging: CostTagging, lake: LakeAccess,
                 cluster: ClusterAccess, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:registries:Registries", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.repositories: dict[str, aws.ecr.Repository] = {}
        for repository in settings.repositories:
            ecr_repository = aws.ecr.Repository(
                f"{name}-{repository.name}",
                name=f"{facts.name_prefix}/{repository.name}",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                image_tag_mutability="IMMUTABLE" if settings.immutable_tags else "MUTABLE",
                encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=lake.kms_key_arn)],
                force_delete=settings.force_delete,
                tags=tagging.resource_tags(COMPONENT, repository.team),
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{repository.name}",
                repository=ecr_repository.name,
                policy=lifecycle_policy(repository),
                opts=child,
            )
            if repository.pull_account_ids:
                aws.ecr.RepositoryPolicy(
                    f"{name}-{repository.name}",
                    repository=ecr_repository.name,
                    policy=cross_account_pull_policy(repository.pull_account_ids),
                    opts=child,
                )
            self.repositories[repository.name] = ecr_repository

        if settings.registry_settings is not None:
            self._registry_settings(name, settings.registry_settings, tagging)

        self.model_package_groups: dict[str, aws.sagemaker.ModelPackageGroup] = {
            group.name: aws.sagemaker.ModelPackageGroup(
                f"{name}-{group.name}",
                model_package_group_name=f"{facts.name_prefix}-{group.name}",
                model_package_group_description=group.description,
                tags=tagging.resource_tags(COMPONENT, group.team),
                opts=child,
            )
            for group in settings.model_package_groups
        }

        self.model_artifact_uris: dict[str, pulumi.Output[str]] = {
            family: lake.bucket_names["models"].apply(lambda bucket, family=family: f"s3://{bucket}/{MODEL_ARTIFACT_PREFIX}{family}/")
            for family in self.model_package_groups
        }

        # --- registering: one role per team that owns families, used by its pipeline pods ----------
        account_id = account_id_of(self)
        families_by_team: dict[str, list[str]] = {}
        for group in settings.model_package_groups:
            # Families of the platform team (no namespace of its own) are registered by its admins.
            if group.team in cluster.team_namespaces:
                families_by_team.setdefault(group.team, []).append(group.name)
        self.model_register_roles: dict[str, aws.iam.Role] = {}
        for team, families in families_by_team.items():
            namespace = cluster.team_namespaces[team]
            team_tags = tagging.resource_tags(COMPONENT, team)
            role = aws.iam.Role(
                f"{name}-register-{team}",
                name=f"{facts.name_prefix}-{team}-model-register",
                description=f"Registers versions of {', '.join(families)} (pending approval) and writes their artifacts",
                assume_role_policy=pod_identity_trust(facts, account_id, [PodSubject(namespace, MODEL_PUBLISHER_SERVICE_ACCOUNT)]),
                tags=team_tags,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-register-{team}",
                role=role.id,
                policy=pulumi.Output.all(
                    lake.bucket_arns["models"], lake.kms_key_arn, *[self.model_package_groups[family].arn for family in families]
                ).apply(lambda args, families=families: register_policy(args[0], args[1], families, list(args[2:]), facts.region)),
                opts=child,
            )
            in_namespace = [cluster.namespace_resources[team]] if team in cluster.namespace_resources else []
            k8s.core.v1.ServiceAccount(
                f"{name}-publisher-{team}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=MODEL_PUBLISHER_SERVICE_ACCOUNT, namespace=namespace,
                                                    labels=tagging.k8s_labels(COMPONENT, team, app=MODEL_PUBLISHER_SERVICE_ACCOUNT)),
                # Pod Identity projects its own token; publishing needs no Kubernetes API.
                automount_service_account_token=False,
                opts=pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider, depends_on=in_namespace),
            )
            aws.eks.PodIdentityAssociation(
                f"{name}-publisher-{team}",
                cluster_name=cluster.cluster_name,
                namespace=namespace,
                service_account=MODEL_PUBLISHER_SERVICE_ACCOUNT,
                role_arn=role.arn,
                tags=team_tags,
                opts=child,
            )
            self.model_register_roles[team] = role

        # --- approving: one role, for the configured approvers only ----------------------------------
        self.model_approver_role = None
        if settings.model_approver_role_arns and self.model_package_groups:
            self.model_approver_role = aws.iam.Role(
                f"{name}-model-approver",
                name=f"{facts.name_prefix}-model-approver",
                description="Approves or rejects model versions of the platform's model package groups",
                assume_role_policy=approver_trust_policy(settings.model_approver_role_arns),
                tags=tagging.resource_tags(COMPONENT),
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-model-approver",
                role=self.model_approver_role.id,
                policy=pulumi.Output.all(*[group.arn for group in self.model_package_groups.values()]).apply(
                    lambda arns: approver_policy(list(arns))
                ),
                opts=child,
            )

        self.repository_urls: dict[str, pulumi.Output[str]] = {key: repo.repository_url for key, repo in self.repositories.items()}
        self.repository_arns: dict[str, pulumi.Output[str]] = {key: repo.arn for key, repo in self.repositories.items()}
        self.model_package_group_arns: dict[str, pulumi.Output[str]] = {key: group.arn for key, group in self.model_package_groups.items()}
        self.model_register_role_arns: dict[str, pulumi.Output[str]] = {team: role.arn for team, role in self.model_register_roles.items()}
        self.model_approver_role_arn = self.model_approver_role.arn if self.model_approver_role else None
        self.images = ImageSource(repository_urls=self.repository_urls, repository_arns=self.repository_arns)
        self.pull_through_prefixes = [rule.cache_prefix for rule in settings.registry_settings.pull_through_cache] if settings.registry_settings else []
        self.register_outputs({
            "pullThroughCachePrefixes": self.pull_through_prefixes,
            "repositoryUrls": self.repository_urls,
            "modelPackageGroupArns": self.model_package_group_arns,
            "modelArtifactUris": self.model_artifact_uris,
            "modelRegisterRoleArns": self.model_register_role_arns,
            "modelApproverRoleArn": self.model_approver_role_arn,
        })

    def _registry_settings(self, name: str, registry: RegistrySettingsConfig, tagging: CostTagging) -> None:
        """Account-and-region-wide: every repository scanned (Amazon Inspector with ENHANCED), and the
        public registries base images come from cached here, so builds pull them inside AWS."""
        child = pulumi.ResourceOptions(parent=self)
        aws.ecr.RegistryScanningConfiguration(
            f"{name}-scanning",
            scan_type=registry.scan_type,
            rules=[aws.ecr.RegistryScanningConfigurationRuleArgs(
                scan_frequency=registry.scan_frequency,
                repository_filters=[aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(filter="*", filter_type="WILDCARD")],
            )],
            opts=child,
        )
        cached = RepositoryConfig(name="cached", untagged_expiry_days=registry.cached_untagged_expiry_days, keep_tagged_images=registry.cached_images_kept)
        for rule in registry.pull_through_cache:
            aws.ecr.PullThroughCacheRule(
                f"{name}-cache-{rule.cache_prefix}",
                ecr_repository_prefix=rule.cache_prefix,
                upstream_registry_url=rule.upstream_url,
                credential_arn=rule.credential_arn,
                opts=child,
            )
            # ECR creates a repository per cached image; the template gives each the cost tags and a
            # lifecycle. Tags stay mutable: the cache follows the upstream's tags, builds pin digests.
            aws.ecr.RepositoryCreationTemplate(
                f"{name}-cache-{rule.cache_prefix}",
                prefix=rule.cache_prefix,
                applied_fors=["PULL_THROUGH_CACHE"],
                description=f"Repositories caching {rule.upstream_url}",
                image_tag_mutability="MUTABLE",
                lifecycle_policy=lifecycle_policy(cached),
                resource_tags=tagging.all_tags(COMPONENT),
                opts=child,
            )

