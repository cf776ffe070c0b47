"""Registries: the container images every environment runs, and the model registry.

Container images: one ECR repository per image family (`<prefix>/notebook`, `<prefix>/serving`,
...). Every repository scans on push, is encrypted with the registry's own KMS key, expires
untagged images after N days and keeps the last N tagged ones, and has immutable tags where the
stack says so (so the image promoted from staging is byte-for-byte the one tested). Accounts in
`pullAccountIds` may pull, nothing more.

Encryption uses the data lake's KMS key rather than a key of its own: that key is already rotated
and, where the stack says `protect`, protected and retained, so prod images can never become
unreadable through a key deletion. ECR keeps image layers in storage that only ECR reaches, so who
may pull is decided by ECR permissions and the repository policy, not by who may use the key; a
second key would add cost and a second lifecycle without narrowing access.

Model registry: one SageMaker model package group per model family, owned by its team. The
models zone of the data lake is the artifact store: a family's artifacts live under
`s3://<models bucket>/registry/<family>/`, written only through the model registry role (trusted
by SageMaker and by pipeline pods through EKS Pod Identity); teams read them like any zone.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.config import RegistriesConfig, RepositoryConfig
from components.facts import StackFacts
from components.iam import (
    POD_IDENTITY_TRUST_STATEMENT,
    policy_document,
    service_trust_statement,
)
from components.interfaces import ImageSource, LakeAccess
from components.tagging import CostTagging

COMPONENT = "registries"
MODEL_ARTIFACT_PREFIX = "registry/"
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


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


def model_registry_trust_policy() -> str:
    """SageMaker (model hosting, pipelines) and pipeline pods (EKS Pod Identity) use the registry role."""
    return policy_document([service_trust_statement("sagemaker.amazonaws.com"), POD_IDENTITY_TRUST_STATEMENT])


def model_registry_policy(models_bucket_arn: str, lake_key_arn: str, group_arns: list[str], repository_arns: list[str]) -> str:
    """Register model versions, write their artifacts under registry/, pull the serving images."""
    package_arns = [arn.replace(":model-package-group/", ":model-package/") + "/*" for arn in group_arns]
    statements = [
        {
            "Sid": "ListModelArtifacts",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [models_bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [f"{MODEL_ARTIFACT_PREFIX}*"]}},
        },
        {
            "Sid": "ReadWriteModelArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"],
            "Resource": [f"{models_bucket_arn}/{MODEL_ARTIFACT_PREFIX}*"],
        },
        {
            "Sid": "UseLakeKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": [lake_key_arn],
        },
    ]
    if group_arns:
        statements.append({
            "Sid": "RegisterModelVersions",
            "Effect": "Allow",
            "Action": [
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:ListModelPackages",
                "sagemaker:UpdateModelPackage",
                "sagemaker:AddTags",
            ],
            "Resource": group_arns + package_arns,
        })
    if repository_arns:
        statements.append({"Sid": "PullImages", "Effect": "Allow", "Action": list(ECR_PULL_ACTIONS), "Resource": repository_arns})
        # GetAuthorizationToken is account-wide; it grants nothing without the pull actions above.
        statements.append({"Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"})
    return policy_document(statements)


class Registries(pulumi.ComponentResource):
    def __init__(self, name: str, settings: RegistriesConfig, facts: StackFacts, tagging: CostTagging, lake: LakeAccess,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:registries:Registries", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        platform_tags = tagging.resource_tags(COMPONENT)

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
            if settings.pull_account_ids:
                aws.ecr.RepositoryPolicy(
                    f"{name}-{repository.name}",
                    repository=ecr_repository.name,
                    policy=cross_account_pull_policy(settings.pull_account_ids),
                    opts=child,
                )
            self.repositories[repository.name] = ecr_repository

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

        self.model_registry_role = aws.iam.Role(
            f"{name}-model-registry",
            name=f"{facts.name_prefix}-model-registry",
            description="Registers model versions and writes their artifacts under registry/ of the models zone",
            assume_role_policy=model_registry_trust_policy(),
            tags=platform_tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-model-registry",
            role=self.model_registry_role.id,
            policy=pulumi.Output.all(
                lake.bucket_arns["models"],
                lake.kms_key_arn,
                pulumi.Output.all(*[group.arn for group in self.model_package_groups.values()]),
                pulumi.Output.all(*[repository.arn for repository in self.repositories.values()]),
            ).apply(lambda args: model_registry_policy(args[0], args[1], list(args[2]), list(args[3]))),
            opts=child,
        )

        self.repository_urls: dict[str, pulumi.Output[str]] = {key: repo.repository_url for key, repo in self.repositories.items()}
        self.repository_arns: dict[str, pulumi.Output[str]] = {key: repo.arn for key, repo in self.repositories.items()}
        self.model_package_group_arns: dict[str, pulumi.Output[str]] = {key: group.arn for key, group in self.model_package_groups.items()}
        self.model_registry_role_arn: pulumi.Output[str] = self.model_registry_role.arn
        self.images = ImageSource(repository_urls=self.repository_urls, repository_arns=self.repository_arns)
        self.register_outputs({
            "repositoryUrls": self.repository_urls,
            "modelPackageGroupArns": self.model_package_group_arns,
            "modelArtifactUris": self.model_artifact_uris,
            "modelRegistryRoleArn": self.model_registry_role_arn,
        })
