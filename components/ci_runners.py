"""CI inside the VPC: a CodeBuild-hosted GitHub Actions runner in the stack's private subnets.

staging and prod have private EKS API endpoints, so `pulumi preview` and `pulumi up` of those
stacks must run inside the VPC. CodeBuild starts one ephemeral runner per queued workflow job
(webhook event WORKFLOW_JOB_QUEUED) whose `runs-on` label is
`codebuild-<project name>-${{ github.run_id }}-${{ github.run_attempt }}`. The runner's own role
can only write its logs and attach to the VPC: the job assumes the stack's deploy role through
GitHub's OIDC provider exactly as on a GitHub-hosted runner, so the runner grants nothing itself.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config.ci_runners import CiRunnerConfig
from components.facts import StackFacts
from components.iam import account_id_of, policy_document, scoped_service_trust_policy
from components.interfaces import NetworkPlacement
from components.keys import encrypted_log_group
from components.tagging import CostTagging

# The runner launches and deploys the cluster's stack; its cost belongs with the platform's compute.
COMPONENT = "compute"
HTTPS = 443


def runner_project_name(project: str, environment: str) -> str:
    """The CodeBuild project name; workflows select the runner by `codebuild-<this>-<run>-<attempt>`."""
    return f"{project}-{environment}-ci-runner"


def runner_policy(account_id: str, region: str, log_group_arn: str, connection_arn: str, subnet_arns: list[str]) -> str:
    """Logs, the VPC network interfaces CodeBuild attaches (the documented set for VPC builds), and
    the GitHub connection. Nothing that touches the platform: jobs assume the deploy role."""
    return policy_document([
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{log_group_arn}:*"},
        {"Sid": "DescribeNetwork", "Effect": "Allow", "Resource": "*", "Action": [
            "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
        ]},
        {"Sid": "NetworkInterfaces", "Effect": "Allow", "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"],
         "Resource": f"arn:aws:ec2:{region}:{account_id}:*"},
        {"Sid": "NetworkInterfacePermission", "Effect": "Allow", "Action": "ec2:CreateNetworkInterfacePermission",
         "Resource": f"arn:aws:ec2:{region}:{account_id}:network-interface/*",
         "Condition": {"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}, "ArnEquals": {"ec2:Subnet": subnet_arns}}},
        {"Sid": "GitHubConnection", "Effect": "Allow", "Resource": connection_arn, "Action": [
            "codeconnections:GetConnection", "codeconnections:GetConnectionToken", "codeconnections:UseConnection",
            "codestar-connections:GetConnection", "codestar-connections:GetConnectionToken", "codestar-connections:UseConnection",
        ]},
    ])


class CiRunner(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: CiRunnerConfig,
        facts: StackFacts,
        tagging: CostTagging,
        network: NetworkPlacement,
        cluster_security_group_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlplatform:ci:CiRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tagging.resource_tags(COMPONENT)
        self.project_name = runner_project_name(facts.project, facts.environment)
        account_id = account_id_of(self)

        # Out to GitHub, PyPI and the AWS APIs (through NAT or the VPC endpoints); nothing comes in.
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=f"{self.project_name}",
            description="CodeBuild-hosted GitHub Actions runner: HTTPS out only",
            vpc_id=network.vpc_id,
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=HTTPS, to_port=HTTPS, cidr_blocks=["0.0.0.0/0"],
                                                    description="HTTPS to GitHub, package indexes and AWS APIs")],
            tags={**tags, "Name": self.project_name},
            opts=child,
        )
        # The private API endpoint answers the runner (the cluster security group admits only itself).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-to-cluster-api",
            security_group_id=cluster_security_group_id,
            referenced_security_group_id=self.security_group.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            description="Kubernetes API from the CI runner",
            tags=tags,
            opts=child,
        )
        log_group = encrypted_log_group(
            f"{name}-logs",
            name=f"/aws/codebuild/{self.project_name}",
            region=facts.region,
            retention_days=settings.log_retention_days,
            alias=f"{self.project_name}-logs",
            tags=tags,
            # Who deployed what is audit evidence: kept like the control-plane logs where data is protected.
            opts=facts.keep(self),
        )
        project_arn = account_id.apply(lambda account: f"arn:aws:codebuild:{facts.region}:{account}:project/{self.project_name}")
        self.role = aws.iam.Role(
            f"{name}-role",
            name=self.project_name,
            description="CodeBuild-hosted GitHub Actions runner: logs, VPC attachment, GitHub connection",
            assume_role_policy=pulumi.Output.all(account_id, project_arn).apply(
                lambda values: scoped_service_trust_policy("codebuild.amazonaws.com", values[0], values[1])
            ),
            tags=tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=self.role.id,
            policy=pulumi.Output.all(account_id, log_group.arn, *network.private_subnet_ids).apply(
                lambda values: runner_policy(values[0], facts.region, values[1], settings.connection_arn,
                                             [f"arn:aws:ec2:{facts.region}:{values[0]}:subnet/{subnet}" for subnet in values[2:]])
            ),
            opts=child,
        )
        self.project = aws.codebuild.Project(
            f"{name}-project",
            name=self.project_name,
            description=f"GitHub Actions runner for {settings.repository_url} inside the {facts.environment} VPC",
            service_role=self.role.arn,
            build_timeout=settings.build_timeout_minutes,
            queued_timeout=settings.queued_timeout_minutes,
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                compute_type=settings.compute_type,
                image=settings.image,
                type="LINUX_CONTAINER",
                image_pull_credentials_type="CODEBUILD",
                privileged_mode=False,
            ),
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"{settings.repository_url}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=settings.connection_arn),
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=network.vpc_id,
                subnets=network.private_subnet_ids,
                security_group_ids=[self.security_group.id],
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(status="ENABLED", group_name=log_group.name),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        # One ephemeral runner per queued workflow job that asks for this project's label.
        self.webhook = aws.codebuild.Webhook(
            f"{name}-webhook",
            project_name=self.project.name,
            build_type="BUILD",
            filter_groups=[aws.codebuild.WebhookFilterGroupArgs(filters=[
                aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern="WORKFLOW_JOB_QUEUED"),
            ])],
            opts=child,
        )
        self.runner_label = f"codebuild-{self.project_name}"
        self.register_outputs({"projectName": self.project_name, "runnerLabel": self.runner_label, "securityGroupId": self.security_group.id})
