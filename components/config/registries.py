"""Registry settings: ECR repositories for images and SageMaker model package groups."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, ValidationInfo, model_validator

from components.config.base import Bool, DnsLabel, Int, Section, Unique, matching, no_duplicates, one_line, section
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
