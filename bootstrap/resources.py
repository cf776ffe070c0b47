"""The bootstrap's resources: the Pulumi state bucket and secrets key, GitHub's OIDC provider, and
per environment a deploy role (and a read-only preview role) that only that environment's
workflow jobs on its branch can assume; a read-only billing role for the monthly cost report."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from bootstrap import permissions
from bootstrap.config import BootstrapConfig, EnvironmentConfig

GITHUB_ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
COST_REPORT_ACTIONS = ["budgets:ViewBudget", "ce:GetCostAndUsage", "ce:GetCostForecast", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]


def subject(config: BootstrapConfig, environment: str, ref: str) -> str:
    """The `sub` claim of a job in `environment` on `ref`: GitHub's default form names only the
    environment; with the repository's subject template set to repo, context, ref (docs/deploy.md)
    it names the ref as well, so the branch is part of the trust."""
    base = f"repo:{config.repository}:environment:{environment}"
    return f"{base}:ref:{ref}" if config.subject_claims == "environment-and-ref" else base


def github_trust(provider_arn: str, sub: str) -> str:
    operator = "StringLike" if "*" in sub else "StringEquals"
    condition: dict = {"StringEquals": {f"{GITHUB_ISSUER}:aud": AUDIENCE}}
    condition.setdefault(operator, {})[f"{GITHUB_ISSUER}:sub"] = sub
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition,
    }]})


def state_statements(bucket_arn: str, key_arn: str, project: str, stack: str, write: bool) -> list[dict]:
    """The stack's own files of a DIY (S3) backend (`.pulumi/<kind>/<project>/<stack>...`) and the
    secrets key. Previews read them and take the stack's lock; deployments write them too."""
    own = [f"{bucket_arn}/.pulumi/{kind}/{project}/{stack}{suffix}" for kind, suffix in
           (("stacks", ".json*"), ("history", "/*"), ("backups", "/*"), ("locks", "/*"))]
    locks = f"{bucket_arn}/.pulumi/locks/{project}/{stack}/*"
    found = [
        {"Sid": "ListState", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": bucket_arn},
        {"Sid": "ReadState", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket_arn}/.pulumi/meta.yaml", *own]},
        {"Sid": "WriteState", "Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": own if write else [locks]},
        {"Sid": "SecretsKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey", *(["kms:Encrypt", "kms:GenerateDataKey"])],
         "Resource": key_arn},
    ]
    return found


class Bootstrap(pulumi.ComponentResource):
    def __init__(self, name: str, config: BootstrapConfig, inventory: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:bootstrap:Bootstrap", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        account_id = identity.account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        # --- the secrets provider: `pulumi stack init --secrets-provider awskms://alias/<this>` --------
        self.secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Pulumi secrets of the {config.project} stacks",
            enable_key_rotation=True,
            deletion_window_in_days=config.kms_deletion_window_days,
            policy=pulumi.Output.all(account_id, partition).apply(lambda v: json.dumps({"Version": "2012-10-17", "Statement": [
                # Key use is granted by IAM policies (the deploy roles'); the key policy defers to them.
                {"Sid": "AccountIamPolicies", "Effect": "Allow", "Principal": {"AWS": f"arn:{v[1]}:iam::{v[0]}:root"}, "Action": "kms:*", "Resource": "*"},
            ]})),
            opts=kept,
        )
        self.secrets_alias = aws.kms.Alias(f"{name}-secrets", name=f"alias/{config.project}-pulumi-secrets", target_key_id=self.secrets_key.key_id,
                                           opts=child)

        # --- the state bucket: versioned, encrypted with the key, private, TLS only ----------------
        self.state_bucket = aws.s3.Bucket(f"{name}-state", bucket=config.state_bucket, force_destroy=False, opts=kept)
        aws.s3.BucketVersioning(f"{name}-state", bucket=self.state_bucket.id,
                                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"), opts=kept)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-state", bucket=self.state_bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=self.secrets_key.arn),
                bucket_key_enabled=True)],
            opts=kept,
        )
        aws.s3.BucketPublicAccessBlock(f"{name}-state", bucket=self.state_bucket.id, block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, opts=kept)
        aws.s3.BucketOwnershipControls(f"{name}-state", bucket=self.state_bucket.id,
                                       rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=kept)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-state", bucket=self.state_bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="old-state-versions", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=config.state_noncurrent_days),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=7),
            )],
            opts=kept,
        )

        # --- GitHub's OIDC provider ---------------------------------------------------------------
        if config.create_oidc_provider:
            provider = aws.iam.OpenIdConnectProvider(f"{name}-github", url=f"https://{GITHUB_ISSUER}", client_id_lists=[AUDIENCE], opts=child)
            provider_arn = provider.arn
        else:
            provider_arn = pulumi.Output.all(partition, account_id).apply(lambda v: f"arn:{v[0]}:iam::{v[1]}:oidc-provider/{GITHUB_ISSUER}")

        # --- per environment: the deploy role and the preview role ----------------------------------
        self.deploy_role_arns: dict[str, pulumi.Output[str]] = {}
        self.preview_role_arns: dict[str, pulumi.Output[str]] = {}
        self.cost_report_role_arns: dict[str, pulumi.Output[str]] = {}
        self.image_push_role_arns: dict[str, pulumi.Output[str]] = {}
        principals = [*config.admins]
        for environment in config.environments:
            deploy, preview = self._environment_roles(name, config, environment, inventory[environment.name], provider_arn, account_id, partition)
            self.deploy_role_arns[environment.name] = deploy.arn
            principals.append(deploy.arn)
            if preview is not None:
                self.preview_role_arns[environment.name] = preview.arn
                principals.append(preview.arn)
            if environment.cost_report:
                self.cost_report_role_arns[environment.name] = self._cost_report_role(name, config, environment, inventory[environment.name],
                                                                                      provider_arn, account_id, partition).arn
            if environment.image_push:
                self.image_push_role_arns[environment.name] = self._image_push_role(name, config, environment, inventory[environment.name],
                                                                                    provider_arn, account_id, partition).arn
        # Only the admins and the roles above reach the state; nobody without TLS.
        aws.s3.BucketPolicy(
            f"{name}-state",
            bucket=self.state_bucket.id,
            policy=pulumi.Output.all(self.state_bucket.arn, *principals).apply(lambda v: json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [v[0], f"{v[0]}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Sid": "OnlyThePlatformsPrincipals", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [v[0], f"{v[0]}/*"],
                 "Condition": {"ArnNotLike": {"aws:PrincipalArn": sorted(v[1:])}}},
            ]})),
            opts=kept,
        )
        self.register_outputs({
            "stateBucket": self.state_bucket.bucket,
            "backendUrl": self.state_bucket.bucket.apply(lambda b: f"s3://{b}"),
            "secretsProvider": self.secrets_alias.name.apply(lambda alias: f"awskms://{alias}"),
            "deployRoleArns": self.deploy_role_arns,
            "previewRoleArns": self.preview_role_arns,
            "costReportRoleArns": self.cost_report_role_arns,
            "imagePushRoleArns": self.image_push_role_arns,
        })

    def _github_role(self, name: str, config: BootstrapConfig, env: str, role: str, description: str, github_environment: str, ref: str,
                     provider_arn, **extra) -> aws.iam.Role:
        """`<project>-<env>-<role>`, assumable only by this repository's jobs in `github_environment` on `ref`."""
        return aws.iam.Role(
            f"{name}-{env}-{role}",
            name=f"{config.project}-{env}-{role}",
            description=description,
            assume_role_policy=provider_arn.apply(lambda arn: github_trust(arn, subject(config, github_environment, ref))),
            opts=pulumi.ResourceOptions(parent=self),
            **extra,
        )

    def _environment_roles(self, name, config: BootstrapConfig, environment: EnvironmentConfig, inventory: dict, provider_arn, account_id, partition):
        child = pulumi.ResourceOptions(parent=self)
        env = environment.name
        deploy = self._github_role(
            name, config, env, "deployer",
            f"pulumi up of the {env} stack from GitHub Actions ({config.repository}, environment {env}, {environment.branch})",
            env, f"refs/heads/{environment.branch}", provider_arn, max_session_duration=environment.max_session_hours * 3600,
        )
        declared = pulumi.Output.all(account_id, partition).apply(
            lambda v: permissions.policy_documents(permissions.statements(inventory, v[0], v[1])))
        count = len(permissions.policy_documents(permissions.statements(inventory, "000000000000")))
        for index in range(count):
            policy = aws.iam.Policy(f"{name}-{env}-deploy-{index + 1}", name=f"{config.project}-{env}-deploy-{index + 1}",
                                    description=f"What the {env} stack declares ({index + 1}/{count}), from bootstrap/permissions.yaml",
                                    policy=declared.apply(lambda documents, i=index: documents[i]), opts=child)
            aws.iam.RolePolicyAttachment(f"{name}-{env}-deploy-{index + 1}", role=deploy.name, policy_arn=policy.arn, opts=child)
        aws.iam.RolePolicy(f"{name}-{env}-deployer-state", role=deploy.id, policy=pulumi.Output.all(self.state_bucket.arn, self.secrets_key.arn).apply(
            lambda v: json.dumps({"Version": "2012-10-17", "Statement": state_statements(v[0], v[1], config.project, env, write=True)})), opts=child)
        preview = None
        if environment.preview:
            preview = self._github_role(
                name, config, env, "preview",
                f"pulumi preview of the {env} stack for pull requests ({config.repository}, environment {env}-preview)",
                f"{env}-preview", "refs/pull/*/merge", provider_arn,
            )
            reads = permissions.read_only(permissions.actions_for(inventory["types"]))
            aws.iam.RolePolicy(f"{name}-{env}-preview", role=preview.id, policy=pulumi.Output.all(self.state_bucket.arn, self.secrets_key.arn).apply(
                lambda v: json.dumps({"Version": "2012-10-17", "Statement": [
                    *state_statements(v[0], v[1], config.project, env, write=False),
                    {"Sid": "ReadDeclared", "Effect": "Allow", "Action": reads, "Resource": "*",
                     "Condition": {"StringEquals": {"aws:RequestedRegion": sorted({inventory["region"], permissions.GLOBAL_REGION})}}},
                ]})), opts=child)
        return deploy, preview

    def _cost_report_role(self, name, config: BootstrapConfig, environment: EnvironmentConfig, inventory: dict, provider_arn, account_id, partition):
        """The monthly cost report of one stack (.github/workflows/cost-report.yml, environment
        billing-<stack>): reads billing data and nothing else."""
        child = pulumi.ResourceOptions(parent=self)
        env = environment.name
        role = self._github_role(name, config, env, "cost-report", f"Monthly cost report of {env} (.github/workflows/cost-report.yml): read-only billing",
                                 f"billing-{env}", "refs/heads/main", provider_arn)
        region = inventory["region"]
        policy = pulumi.Output.all(account_id, partition).apply(lambda v: json.dumps({"Version": "2012-10-17", "Statement": cost_report_statements(
            v[0], v[1], region, config.project, config.billing_export_bucket)}))
        aws.iam.RolePolicy(f"{name}-{env}-cost-report", role=role.id, policy=policy, opts=child)
        return role

    def _image_push_role(self, name, config: BootstrapConfig, environment: EnvironmentConfig, inventory: dict, provider_arn, account_id, partition):
        """Pushes the platform's images to the stack's repositories (.github/workflows/images.yml,
        environment <stack> on main) through the registry's pull-through cache for base images."""
        child = pulumi.ResourceOptions(parent=self)
        env = environment.name
        role = self._github_role(name, config, env, "image-push", f"Pushes images to the {env} repositories (.github/workflows/images.yml)",
                                 env, f"refs/heads/{environment.branch}", provider_arn)
        region, prefix = inventory["region"], inventory["namePrefix"]
        policy = pulumi.Output.all(account_id, partition).apply(lambda v: json.dumps({"Version": "2012-10-17", "Statement": image_push_statements(
            v[0], v[1], region, prefix)}))
        aws.iam.RolePolicy(f"{name}-{env}-image-push", role=role.id, policy=policy, opts=child)
        return role


def cost_report_statements(account_id: str, partition: str, region: str, project: str, export_bucket: str | None) -> list[dict]:
    """What `mlp report` reads: Cost Explorer, budgets, the GPU agent's metrics and, where the
    account exports CUR 2.0, the export through the `<project>-billing` Athena workgroup."""
    found = [{"Sid": "ReadBilling", "Effect": "Allow", "Action": COST_REPORT_ACTIONS, "Resource": "*"}]
    if export_bucket:
        bucket = f"arn:{partition}:s3:::{export_bucket}"
        found += [
            {"Sid": "Athena", "Effect": "Allow", "Action": ["athena:GetQueryExecution", "athena:GetQueryResults", "athena:StartQueryExecution"],
             "Resource": f"arn:{partition}:athena:{region}:{account_id}:workgroup/{project}-billing"},
            {"Sid": "Catalog", "Effect": "Allow", "Action": ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable"],
             "Resource": [f"arn:{partition}:glue:{region}:{account_id}:catalog", f"arn:{partition}:glue:{region}:{account_id}:database/*",
                          f"arn:{partition}:glue:{region}:{account_id}:table/*/*"]},
            {"Sid": "ReadExports", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": bucket},
            {"Sid": "ReadExportFiles", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket}/*"},
            {"Sid": "WriteQueryResults", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"{bucket}/athena-results/*"},
        ]
    return found


def image_push_statements(account_id: str, partition: str, region: str, name_prefix: str) -> list[dict]:
    repositories = f"arn:{partition}:ecr:{region}:{account_id}:repository/{name_prefix}/*"
    cache = f"arn:{partition}:ecr:{region}:{account_id}:repository/ecr-public/*"
    return [
        {"Sid": "Login", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "Push", "Effect": "Allow", "Resource": repositories, "Action": [
            "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImageScanFindings",
            "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage",
            "ecr:UploadLayerPart"]},
        {"Sid": "PullThroughCache", "Effect": "Allow", "Resource": cache, "Action": [
            "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository",
            "ecr:GetDownloadUrlForLayer"]},
        {"Sid": "Findings", "Effect": "Allow", "Action": ["inspector2:ListFindings"], "Resource": "*"},
    ]
