"""The bootstrap stack's settings: one typed model, validated before any resource is declared."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, TypeAdapter, ValidationError

from components.config.base import Int, Section, Unique, matching, one_of, section
from components.config.errors import ConfigError, from_validation_error

NAMESPACE = "mlplatform-bootstrap"
ENVIRONMENTS = ("dev", "staging", "prod")

Repository = matching(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}", "a GitHub repository like acme/mlplatform")
BucketName = matching(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name")
Branch = matching(r"[A-Za-z0-9._/-]{1,200}", "a branch name like main")
Region = matching(r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS region like us-east-1")


@section
class EnvironmentConfig(Section):
    """A GitHub environment that deploys one stack, and the roles it gets."""

    name: one_of(*ENVIRONMENTS) = Field(description="Stack (and GitHub environment) name.")
    branch: Branch = Field(default="main", description="The only branch whose workflow jobs may assume the deploy role.")
    preview: bool = Field(default=True, description="Whether a read-only preview role exists for pull requests (GitHub environment <name>-preview).")
    cost_report: bool = Field(default=True, description="Whether a read-only billing role exists for the monthly cost report (GitHub environment billing-<name>).")
    image_push: bool = Field(default=True, description="Whether a role exists that pushes images to the stack's ECR repositories (.github/workflows/images.yml).")
    max_session_hours: Int = Field(default=2, ge=1, le=12, description="Longest deploy session (pulumi up of prod takes up to ~90 minutes).")


@section
class BootstrapConfig(Section):
    """What must exist before the platform's first `pulumi up`: state, secrets key, CI identity."""

    project: matching(r"[a-z][a-z0-9-]{1,20}", "the platform project name") = Field(default="mlplatform", description="The platform project (physical name prefix).")
    state_bucket: BucketName = Field(description="S3 bucket of the Pulumi state (`pulumi login s3://<this>`).")
    repository: Repository = Field(description="GitHub repository whose workflows deploy (owner/name).")
    cost_center: str = Field(description="CostCenter tag of the bootstrap resources.")
    team: str = Field(default="ml-platform", description="Team tag of the bootstrap resources.")
    environments: tuple[EnvironmentConfig, ...] = Field(min_length=1, description="Environments that deploy from GitHub Actions.")
    create_oidc_provider: bool = Field(default=True, description="Create GitHub's OIDC provider (false if the account already has one).")
    billing_export_bucket: Optional[BucketName] = Field(
        default=None, description="Bucket of the CUR 2.0 export (mlplatform:billing.exportBucketName); the cost-report roles read it through Athena.",
    )
    state_noncurrent_days: Int = Field(default=90, ge=1, le=3650, description="Days old state versions are kept.")
    kms_deletion_window_days: Int = Field(default=30, ge=7, le=30, description="Waiting period before the secrets key can be deleted.")
    subject_claims: one_of("environment-and-ref", "environment") = Field(
        default="environment-and-ref",
        description="Trust on `repo:<repo>:environment:<env>:ref:<ref>` (the repository's OIDC subject template includes ref; docs/deploy.md) or on the environment only.",
    )
    admins: Unique[matching(r"arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/[\w+=,.@/-]+", "an IAM role or user ARN")] = Field(
        min_length=1, description="Principals that administer the state bucket and the secrets key (break-glass, bootstrap runs).",
    )


_DOCUMENT = TypeAdapter(BootstrapConfig)


def parse(raw: dict) -> BootstrapConfig:
    """Validate the `bootstrap:` keys of the stack config (names without the namespace)."""
    try:
        return _DOCUMENT.validate_python(raw)
    except ValidationError as error:
        raise from_validation_error(error) from None


__all__ = ["BootstrapConfig", "EnvironmentConfig", "ConfigError", "parse", "NAMESPACE"]
