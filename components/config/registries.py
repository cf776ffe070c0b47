"""Registry settings: ECR repositories for images and SageMaker model package groups."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, ValidationInfo, model_validator

from components.config.base import Bool, DnsLabel, Int, Section, Unique, matching, no_duplicates, one_line, one_of, section
from components.config.cluster import IamRoleArn
from components.config.errors import Invalid

AccountId = matching(r"\d{12}", "a 12-digit AWS account id")
# ECR repository name component: lowercase, digits, and single separators (. _ -).
RepositoryName = matching(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", "a repository name: lowercase letters and digits separated by '.', '_' or '-'")
# SageMaker model package group names are at most 63 characters; the stack prefix is added.
ModelFamily = matching(r"[a-z0-9](-?[a-z0-9]){0,31}", "a model family name: lowercase letters, digits and single '-', at most 32 characters")

# Settings a repository inherits from the registry-wide value unless it sets its own.
_INHERITED = ("untaggedExpiryDays", "keepTaggedImages")


@section
class RepositoryConfig(Section):
    """One ECR repository of the platform (`<name prefix>/<name>`)."""

    name: RepositoryName = Field(description="Repository name; images are referred to as `<name>:<tag>`.")
    team: Optional[DnsLabel] = Field(default=None, description="Owning team for cost tags: a configured team or the platform team (default).")
    untagged_expiry_days: Optional[Int] = Field(default=None, ge=1, le=3650, description="Days untagged images are kept (default: the registry-wide value).")
    keep_tagged_images: Optional[Int] = Field(default=None, ge=1, le=10000, description="Tagged images kept, newest first (default: the registry-wide value).")
    pull_account_ids: Unique[AccountId] = Field(default=(), description="Other AWS accounts that may pull this repository's images (and nothing else); none by default.")


@section
class ModelPackageGroupConfig(Section):
    """A SageMaker model package group: the versions of one model family."""

    name: ModelFamily = Field(description="Model family; the group is named `<name prefix>-<name>`.")
    team: DnsLabel = Field(description="Owning team: a configured team or the platform team.")
    description: one_line(1000, "description") = Field(description="What the models of this family do.")


# Upstream registries ECR can cache (CreatePullThroughCacheRule's upstreamRegistryUrl by upstreamRegistry).
UPSTREAM_REGISTRIES = {
    "ecr-public": "public.ecr.aws",
    "quay": "quay.io",
    "k8s": "registry.k8s.io",
    "docker-hub": "registry-1.docker.io",
    "github-container-registry": "ghcr.io",
    "gitlab-container-registry": "registry.gitlab.com",
}
# These upstreams take a Secrets Manager secret of credentials, whose name ECR requires to start so.
CREDENTIAL_UPSTREAMS = ("docker-hub", "github-container-registry", "gitlab-container-registry")
CREDENTIAL_SECRET_PREFIX = "ecr-pullthroughcache/"
CacheCredentialArn = matching(
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/[\w/+=.@-]+",
    "a Secrets Manager secret ARN whose name starts with ecr-pullthroughcache/",
)
# ECR pull-through cache prefixes: 2-30 characters of a repository name.
CachePrefix = matching(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", "a repository name prefix like ecr-public")


@section
class PullThroughCacheRuleConfig(Section):
    """A public registry whose images ECR caches under `<prefix>/`: builds pull base images through it."""

    upstream: one_of(*UPSTREAM_REGISTRIES) = Field(description="The upstream registry: ecr-public, quay, k8s, docker-hub, github-container-registry or gitlab-container-registry.")
    prefix: Optional[CachePrefix] = Field(default=None, description="Repository prefix of the cached images (default: the upstream's name).")
    credential_arn: Optional[CacheCredentialArn] = Field(
        default=None, description="Secrets Manager secret (ARN, name under ecr-pullthroughcache/) with the upstream credentials; required for docker-hub, GitHub and GitLab.",
    )

    @model_validator(mode="after")
    def _credentials(self) -> "PullThroughCacheRuleConfig":
        if self.upstream in CREDENTIAL_UPSTREAMS and self.credential_arn is None:
            raise Invalid(f"is required: ECR caches {self.upstream} only with credentials", "credentialArn")
        if self.upstream not in CREDENTIAL_UPSTREAMS and self.credential_arn is not None:
            raise Invalid(f"{self.upstream} is public: ECR takes no credentials for it", "credentialArn")
        if not 2 <= len(self.cache_prefix) <= 30:
            raise Invalid(f"must be 2-30 characters, got {self.cache_prefix!r}", "prefix")
        return self

    @property
    def cache_prefix(self) -> str:
        return self.prefix or self.upstream

    @property
    def upstream_url(self) -> str:
        return UPSTREAM_REGISTRIES[self.upstream]


@section
class RegistrySettingsConfig(Section):
    """Settings of the whole registry of the stack's account and region: how every image is scanned,
    and which public registries are cached. Exactly one stack per account and region owns them."""

    scan_type: one_of("ENHANCED", "BASIC") = Field(default="ENHANCED", description="ENHANCED: Amazon Inspector scans OS and language packages; BASIC: on push only.")
    scan_frequency: one_of("CONTINUOUS_SCAN", "SCAN_ON_PUSH") = Field(
        default="CONTINUOUS_SCAN", description="Enhanced scanning: rescan as new vulnerabilities are published (CONTINUOUS_SCAN) or only on push.",
    )
    pull_through_cache: tuple[PullThroughCacheRuleConfig, ...] = Field(default=(), description="Public registries cached in this registry.")
    cached_untagged_expiry_days: Int = Field(default=14, ge=1, le=3650, description="Days an untagged cached image is kept.")
    cached_images_kept: Int = Field(default=50, ge=1, le=10000, description="Cached tagged images each cached repository keeps.")

    @model_validator(mode="after")
    def _consistent(self) -> "RegistrySettingsConfig":
        if self.scan_type == "BASIC" and self.scan_frequency == "CONTINUOUS_SCAN":
            raise Invalid("basic scanning only scans on push: use SCAN_ON_PUSH or scanType ENHANCED", "scanFrequency")
        prefixes = [rule.cache_prefix for rule in self.pull_through_cache]
        for i, prefix in enumerate(prefixes):
            if prefix in prefixes[:i]:
                raise Invalid(f"duplicate pull-through cache prefix {prefix!r}: each upstream needs a prefix of its own", "pullThroughCache", i, "prefix")
        return self


@section
class RegistriesConfig(Section):
    """Container and model registries."""

    immutable_tags: Bool = Field(description="Whether pushed tags can never be overwritten (false only where images are rebuilt in place, like dev).")
    force_delete: Bool = Field(default=False, description="Whether `pulumi destroy` may delete repositories that still hold images.")
    untagged_expiry_days: Int = Field(ge=1, le=3650, description="Days untagged images are kept, unless a repository says otherwise.")
    keep_tagged_images: Int = Field(ge=1, le=10000, description="Tagged images each repository keeps, unless it says otherwise.")
    repositories: tuple[RepositoryConfig, ...] = Field(min_length=1, description="The platform's ECR repositories.")
    model_package_groups: tuple[ModelPackageGroupConfig, ...] = Field(default=(), description="Model families of the model registry.")
    model_approver_role_arns: Unique[IamRoleArn] = Field(
        default=(),
        description="Roles that may assume the model approver role, the only role that approves or rejects model versions; none: nobody approves through the platform.",
    )
    registry_settings: Optional[RegistrySettingsConfig] = Field(
        default=None,
        description="Registry-wide scanning and pull-through cache rules of this account and region; set in exactly one stack per account and region.",
    )

    @classmethod
    def _check_keys(cls, data: dict) -> None:
        if "pullAccountIds" in data:
            # A registry-wide list shared every repository when one was meant to be shared.
            raise Invalid("is set per repository (repositories[].pullAccountIds): name each repository another account may pull", "pullAccountIds")
        super()._check_keys(data)

    @classmethod
    def _prepare(cls, data: dict, info: ValidationInfo) -> dict:
        repositories = data.get("repositories")
        if not isinstance(repositories, list):
            return data
        inherited = {key: data[key] for key in _INHERITED if key in data}

        def with_inherited(item: object) -> object:
            if not isinstance(item, dict):
                return item
            return {**item, **{key: value for key, value in inherited.items() if item.get(key) is None}}

        return {**data, "repositories": [with_inherited(item) for item in repositories]}

    @model_validator(mode="after")
    def _unique_names(self) -> "RegistriesConfig":
        no_duplicates("repository", [repository.name for repository in self.repositories], "repositories")
        no_duplicates("model package group", [group.name for group in self.model_package_groups], "modelPackageGroups")
        return self

    @property
    def repository_names(self) -> tuple[str, ...]:
        return tuple(repository.name for repository in self.repositories)

    @property
    def owners(self) -> list[tuple[str, int, Optional[str]]]:
        """(list key, index, team) of every repository and model package group."""
        return [("repositories", i, item.team) for i, item in enumerate(self.repositories)] + [
            ("modelPackageGroups", i, item.team) for i, item in enumerate(self.model_package_groups)
        ]
