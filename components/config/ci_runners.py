"""The CI runner inside the VPC: a CodeBuild-hosted GitHub Actions runner in the private subnets,
so workflows can preview and deploy a stack whose EKS API endpoint is private."""

from __future__ import annotations

from pydantic import Field

from components.config.base import Int, LogRetention, Section, matching, one_of, section

# CodeBuild's Linux container compute types (the runner's size); see docs/deploy.md.
COMPUTE_TYPES = ("BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE", "BUILD_GENERAL1_XLARGE", "BUILD_GENERAL1_2XLARGE")

GitHubRepositoryUrl = matching(r"https://github\.com/[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}",
                               "a GitHub repository URL like https://github.com/acme/mlplatform")
ConnectionArn = matching(
    r"arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:connection/[0-9a-f-]{36}",
    "a CodeConnections connection ARN like arn:aws:codeconnections:us-east-1:111122223333:connection/<uuid>",
)
CodeBuildImage = matching(r"aws/codebuild/[a-z0-9._/-]+:[A-Za-z0-9._-]+", "a CodeBuild curated image like aws/codebuild/standard:7.0")


@section
class CiRunnerConfig(Section):
    """A CodeBuild project that runs this repository's GitHub Actions jobs in the private subnets
    (workflows select it with the label `codebuild-<project>-<env>-ci-runner-<run id>-<attempt>`)."""

    repository_url: GitHubRepositoryUrl = Field(description="The GitHub repository whose workflow jobs the runner takes.")
    connection_arn: ConnectionArn = Field(
        description="AWS CodeConnections connection to GitHub (created and authorised once in the console; see docs/deploy.md).",
    )
    compute_type: one_of(*COMPUTE_TYPES) = Field(default="BUILD_GENERAL1_MEDIUM", description="CodeBuild compute type of a runner.")
    image: CodeBuildImage = Field(default="aws/codebuild/standard:7.0", description="CodeBuild curated image the jobs run in (Ubuntu, so actions/setup-python works).")
    build_timeout_minutes: Int = Field(default=180, ge=5, le=2160, description="Longest a job may run before CodeBuild stops it.")
    queued_timeout_minutes: Int = Field(default=60, ge=5, le=480, description="Longest a job may wait for capacity.")
    log_retention_days: LogRetention = Field(default=90, description="Days the runner's build logs are kept in CloudWatch Logs.")
