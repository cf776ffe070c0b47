"""Data lake: one encrypted, versioned, private bucket per zone, a catalog, and per-team access.

Every zone bucket is SSE-KMS with a bucket key (fewer KMS calls, lower cost), blocks all public
access, disables ACLs, refuses plain HTTP, logs access to a separate bucket, and tiers objects
down as configured. Teams read every zone and write only under `teams/<team>/` of the zones that
allow team writes. Where config says `protect`, a `pulumi destroy` cannot take the data with it.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import DataLakeConfig, ZoneConfig
from components.facts import StackFacts
from components.iam import (
    deny_insecure_transport,
    pod_identity_trust_policy,
    policy_document,
)
from components.interfaces import LakeAccess
from components.tagging import CostTagging

COMPONENT = "datalake"


def tls_only_statement(bucket_arn: str) -> dict:
    return deny_insecure_transport("s3:*", [bucket_arn, f"{bucket_arn}/*"])


def team_prefix(team: str) -> str:
    return f"teams/{team}/"


def team_access_policy(team: str, zones: list[tuple[ZoneConfig, str]], key_arn: str, glue_arns: list[str]) -> str:
    """Read every zone; write only the team's prefix of team-writable zones. No wildcard actions."""
    bucket_arns = [arn for _, arn in zones]
    writable = [f"{arn}/{team_prefix(team)}*" for zone, arn in zones if zone.team_writable]
    statements = [
        {"Sid": "ListZones", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": bucket_arns},
        {"Sid": "ReadZones", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"], "Resource": [f"{arn}/*" for arn in bucket_arns]},
        {"Sid": "UseLakeKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": [key_arn]},
        {"Sid": "ReadCatalog", "Effect": "Allow", "Action": ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"], "Resource": glue_arns},
    ]
    if writable:
        statements.append({
            "Sid": "WriteOwnTeamPrefix",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": writable,
        })
    return policy_document(statements)


class DataLake(pulumi.ComponentResource):
    def __init__(self, name: str, settings: DataLakeConfig, facts: StackFacts, tagging: CostTagging,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:datalake:DataLake", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Data that must outlive the stack: refuse deletion in Pulumi and keep it in AWS on destroy.
        keep = pulumi.ResourceOptions(parent=self, protect=settings.protect, retain_on_delete=settings.protect)
        tags = tagging.resource_tags(COMPONENT)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        self.kms_key = aws.kms.Key(
            f"{name}-key",
            description=f"{facts.name_prefix} data lake encryption",
            enable_key_rotation=True,
            deletion_window_in_days=settings.kms_deletion_window_days,
            tags=tags,
            opts=keep,
        )
        aws.kms.Alias(f"{name}-key", name=f"alias/{facts.name_prefix}-datalake", target_key_id=self.kms_key.key_id, opts=child)

        self.access_log_bucket = self._bucket(f"{name}-access-logs", settings.access_log_bucket_name, tags, keep)
        # S3 server access logging only delivers to buckets encrypted with SSE-S3.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs",
            bucket=self.access_log_bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256"),
            )],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs",
            bucket=self.access_log_bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-access-logs",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=settings.access_log_retention_days),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=1),
            )],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-access-logs",
            bucket=self.access_log_bucket.id,
            policy=pulumi.Output.all(self.access_log_bucket.arn, identity.account_id).apply(lambda args: policy_document([
                    tls_only_statement(args[0]),
                    {
                        "Sid": "S3ServerAccessLogsDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"{args[0]}/*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": args[1]}},
                    },
            ])),
            opts=child,
        )

        self.buckets: dict[str, aws.s3.Bucket] = {}
        for zone in settings.zones:
            bucket = self._bucket(f"{name}-{zone.name}", settings.bucket_name(zone.name), tags, keep)
            self.buckets[zone.name] = bucket
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{name}-{zone.name}",
                bucket=bucket.id,
                rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=self.kms_key.arn
                    ),
                    bucket_key_enabled=True,
                )],
                opts=child,
            )
            aws.s3.BucketLifecycleConfiguration(f"{name}-{zone.name}", bucket=bucket.id, rules=lifecycle_rules(zone), opts=child)
            aws.s3.BucketLogging(
                f"{name}-{zone.name}",
                bucket=bucket.id,
                target_bucket=self.access_log_bucket.id,
                target_prefix=f"{zone.name}/",
                opts=child,
            )
            aws.s3.BucketPolicy(
                f"{name}-{zone.name}",
                bucket=bucket.id,
                policy=bucket.arn.apply(lambda arn: policy_document([tls_only_statement(arn)])),
                opts=child,
            )

        self.catalog_databases = {
            zone.name: aws.glue.CatalogDatabase(
                f"{name}-{zone.name}",
                name=f"{facts.name_prefix}_{zone.name}".replace("-", "_"),
                description=f"{zone.name} zone of the {facts.environment} data lake",
                location_uri=f"s3://{settings.bucket_name(zone.name)}/",
                tags=tags,
                opts=child,
            )
            for zone in settings.zones
        }

        zone_arns = pulumi.Output.all(*[self.buckets[zone.name].arn for zone in settings.zones])
        catalog_arns = pulumi.Output.all(*[db.arn for db in self.catalog_databases.values()])
        self.team_roles: dict[str, aws.iam.Role] = {}
        for team in facts.team_names:
            role = aws.iam.Role(
                f"{name}-team-{team}",
                name=f"{facts.name_prefix}-{team}-data",
                description=f"Data lake access of team {team}: read all zones, write teams/{team}/",
                assume_role_policy=pod_identity_trust_policy(),
                tags=tagging.resource_tags(COMPONENT, team),
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-team-{team}",
                role=role.id,
                policy=pulumi.Output.all(zone_arns, self.kms_key.arn, catalog_arns, identity.account_id).apply(
                    lambda args, team=team: team_access_policy(
                        team,
                        list(zip(settings.zones, args[0])),
                        args[1],
                        [f"arn:aws:glue:{facts.region}:{args[3]}:catalog"]
                        + list(args[2])
                        + [arn.replace(":database/", ":table/") + "/*" for arn in args[2]],
                    )
                ),
                opts=child,
            )
            self.team_roles[team] = role

        self.kms_key_arn = self.kms_key.arn
        self.bucket_names = {zone: bucket.bucket for zone, bucket in self.buckets.items()}
        self.bucket_arns = {zone: bucket.arn for zone, bucket in self.buckets.items()}
        self.team_role_arns = {team: role.arn for team, role in self.team_roles.items()}
        self.access = LakeAccess(
            kms_key_arn=self.kms_key_arn,
            bucket_names=self.bucket_names,
            bucket_arns=self.bucket_arns,
            team_role_arns=self.team_role_arns,
            configured_bucket_names={zone.name: settings.bucket_name(zone.name) for zone in settings.zones},
        )
        self.register_outputs({
            "kmsKeyArn": self.kms_key_arn,
            "bucketNames": self.bucket_names,
            "accessLogBucket": self.access_log_bucket.bucket,
            "teamRoleArns": self.team_role_arns,
        })

    def _bucket(self, resource_name: str, bucket_name: str, tags: dict, opts: pulumi.ResourceOptions) -> aws.s3.Bucket:
        """A bucket with versioning, every public-access block and ACLs disabled."""
        bucket = aws.s3.Bucket(resource_name, bucket=bucket_name, force_destroy=False, tags=tags, opts=opts)
        child = pulumi.ResourceOptions(parent=self)
        aws.s3.BucketVersioning(
            resource_name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            resource_name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            resource_name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        return bucket


def lifecycle_rules(zone: ZoneConfig) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    every_object = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")
    transitions = []
    if zone.infrequent_access_after_days is not None:
        transitions.append(aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=zone.infrequent_access_after_days, storage_class="STANDARD_IA"))
    if zone.glacier_after_days is not None:
        transitions.append(aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=zone.glacier_after_days, storage_class="GLACIER_IR"))
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=every_object,
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=zone.noncurrent_version_expiry_days),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=7),
        )
    ]
    if transitions or zone.expire_after_days is not None:
        rules.append(aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="tier-and-expire",
            status="Enabled",
            filter=every_object,
            transitions=transitions or None,
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=zone.expire_after_days) if zone.expire_after_days is not None else None,
        ))
    return rules
