"""Data lake: one encrypted, versioned, private bucket per zone, a catalog, and per-team access.

Every zone bucket is SSE-KMS with a bucket key (fewer KMS calls, lower cost), blocks all public
access, disables ACLs, refuses plain HTTP, logs access to a separate bucket, and tiers objects
down as configured. Teams read every zone and write only under `teams/<team>/` of the zones that
allow team writes; captured inference payloads (`captures/<team>/` of the capture zone, which may
hold personal data) only the owning team reads, and the lake key works for teams only through S3.
Each team's role is trusted only by the pods the platform runs for that team (its notebook
servers, its workloads), on this stack's cluster.

Where config says `protect`, a `pulumi destroy` cannot take the data with it, nor anything the data
depends on: the key, every bucket setting (a destroy that removed the public-access block or the
TLS-only policy and kept the bucket would leave it open), the catalog.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from collections.abc import Mapping, Sequence

from components.config import CAPTURE_ZONE, DataLakeConfig, ZoneConfig
from components.config.endpoints import team_capture_prefix
from components.facts import StackFacts
from components.iam import (
    PodSubject,
    account_id_of,
    deny_insecure_transport,
    pod_identity_trust,
    policy_document,
    via_services,
)
from components.interfaces import LakeAccess
from components.load_balancers import log_delivery_statement
from components.tagging import CostTagging

COMPONENT = "datalake"


def tls_only_statement(bucket_arn: str) -> dict:
    return deny_insecure_transport("s3:*", [bucket_arn, f"{bucket_arn}/*"])


def team_prefix(team: str) -> str:
    return f"teams/{team}/"


def others_captures_statements(capture_bucket_arn: str, other_owners: Sequence[str]) -> list[dict]:
    """Deny reading and listing the captured payloads of every other owner of endpoints."""
    if not other_owners:
        return []
    prefixes = [team_capture_prefix(owner) for owner in sorted(other_owners)]
    return [
        {"Sid": "NoOtherTeamsCaptures", "Effect": "Deny", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"],
         "Resource": [f"{capture_bucket_arn}/{prefix}*" for prefix in prefixes]},
        {"Sid": "NoListingOtherTeamsCaptures", "Effect": "Deny", "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
         "Resource": [capture_bucket_arn], "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}}},
    ]


def team_access_policy(team: str, zones: list[tuple[ZoneConfig, str]], key_arn: str, glue_arns: list[str], region: str,
                       other_owners: Sequence[str] = ()) -> str:
    """Read every zone but other teams' captures; write only the team's prefix of team-writable zones.
    The lake key only through S3. No wildcard actions."""
    bucket_arns = [arn for _, arn in zones]
    writable = [f"{arn}/{team_prefix(team)}*" for zone, arn in zones if zone.team_writable]
    statements = [
        {"Sid": "ListZones", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": bucket_arns},
        {"Sid": "ReadZones", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"], "Resource": [f"{arn}/*" for arn in bucket_arns]},
        {"Sid": "UseLakeKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": [key_arn],
         "Condition": via_services("s3", region=region)},
        {"Sid": "ReadCatalog", "Effect": "Allow", "Action": ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"], "Resource": glue_arns},
    ]
    if writable:
        statements.append({
            "Sid": "WriteOwnTeamPrefix",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": writable,
        })
    capture_bucket = next((arn for zone, arn in zones if zone.name == CAPTURE_ZONE), None)
    if capture_bucket is not None:
        statements += others_captures_statements(capture_bucket, [owner for owner in other_owners if owner != team])
    return policy_document(statements)


class DataLake(pulumi.ComponentResource):
    def __init__(self, name: str, settings: DataLakeConfig, facts: StackFacts, tagging: CostTagging,
                 team_role_users: Mapping[str, Sequence[PodSubject]], opts: pulumi.ResourceOptions | None = None):
        """`team_role_users`: by team, the pods (namespace, service account) that run with its data role."""
        super().__init__("mlplatform:datalake:DataLake", name, None, opts)
        # Data that must outlive the stack, and every setting it depends on: refuse deletion in
        # Pulumi and keep it in AWS on destroy.
        keep = pulumi.ResourceOptions(parent=self, protect=settings.protect, retain_on_delete=settings.protect)
        tags = tagging.resource_tags(COMPONENT)
        account_id = account_id_of(self)

        self.kms_key = aws.kms.Key(
            f"{name}-key",
            description=f"{facts.name_prefix} data lake encryption",
            enable_key_rotation=True,
            deletion_window_in_days=settings.kms_deletion_window_days,
            tags=tags,
            opts=keep,
        )
        aws.kms.Alias(f"{name}-key", name=f"alias/{facts.name_prefix}-datalake", target_key_id=self.kms_key.key_id, opts=keep)

        self.access_log_bucket = self._bucket(f"{name}-access-logs", settings.access_log_bucket_name, tags, keep)
        # S3 server access logging only delivers to buckets encrypted with SSE-S3.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs",
            bucket=self.access_log_bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256"),
            )],
            opts=keep,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs",
            bucket=self.access_log_bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-access-logs",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=settings.access_log_retention_days),
                # The bucket is versioned like every bucket; expired logs leave no version behind.
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=1),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=1),
            )],
            opts=keep,
        )
        aws.s3.BucketPolicy(
            f"{name}-access-logs",
            bucket=self.access_log_bucket.id,
            policy=pulumi.Output.all(self.access_log_bucket.arn, account_id).apply(lambda args: policy_document([
                    tls_only_statement(args[0]),
                    {
                        "Sid": "S3ServerAccessLogsDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"{args[0]}/*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": args[1]}},
                    },
                    # The platform's load balancers (notebooks, model servers) log here too.
                    log_delivery_statement(args[0], args[1], facts.region),
            ])),
            opts=keep,
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
                opts=keep,
            )
            aws.s3.BucketLifecycleConfiguration(f"{name}-{zone.name}", bucket=bucket.id, rules=lifecycle_rules(zone), opts=keep)
            aws.s3.BucketLogging(
                f"{name}-{zone.name}",
                bucket=bucket.id,
                target_bucket=self.access_log_bucket.id,
                target_prefix=f"{zone.name}/",
                opts=keep,
            )
            aws.s3.BucketPolicy(
                f"{name}-{zone.name}",
                bucket=bucket.id,
                policy=bucket.arn.apply(lambda arn: policy_document([tls_only_statement(arn)])),
                opts=keep,
            )

        self.catalog_databases = {
            zone.name: aws.glue.CatalogDatabase(
                f"{name}-{zone.name}",
                name=f"{facts.name_prefix}_{zone.name}".replace("-", "_"),
                description=f"{zone.name} zone of the {facts.environment} data lake",
                location_uri=f"s3://{settings.bucket_name(zone.name)}/",
                tags=tags,
                opts=keep,
            )
            for zone in settings.zones
        }

        zone_arns = pulumi.Output.all(*[self.buckets[zone.name].arn for zone in settings.zones])
        catalog_arns = pulumi.Output.all(*[db.arn for db in self.catalog_databases.values()])
        self.team_roles: dict[str, aws.iam.Role] = {}
        # Endpoints of any team, or of the platform team, capture under their owner's prefix.
        capture_owners = sorted({*facts.team_names, tagging.platform_team})
        for team in facts.team_names:
            role = aws.iam.Role(
                f"{name}-team-{team}",
                name=f"{facts.name_prefix}-{team}-data",
                description=f"Data lake access of team {team}: read all zones, write teams/{team}/",
                assume_role_policy=pod_identity_trust(facts, account_id, team_role_users[team]),
                tags=tagging.resource_tags(COMPONENT, team),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.iam.RolePolicy(
                f"{name}-team-{team}",
                role=role.id,
                policy=pulumi.Output.all(zone_arns, self.kms_key.arn, catalog_arns, account_id).apply(
                    lambda args, team=team: team_access_policy(
                        team,
                        list(zip(settings.zones, args[0])),
                        args[1],
                        [f"arn:aws:glue:{facts.region}:{args[3]}:catalog"]
                        + list(args[2])
                        + [arn.replace(":database/", ":table/") + "/*" for arn in args[2]],
                        facts.region,
                        capture_owners,
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self),
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
            access_log_bucket_name=settings.access_log_bucket_name,
        )
        self.register_outputs({
            "kmsKeyArn": self.kms_key_arn,
            "bucketNames": self.bucket_names,
            "accessLogBucket": self.access_log_bucket.bucket,
            "teamRoleArns": self.team_role_arns,
        })

    def _bucket(self, resource_name: str, bucket_name: str, tags: dict, opts: pulumi.ResourceOptions) -> aws.s3.Bucket:
        """A bucket with versioning, every public-access block and ACLs disabled, all kept alike (`opts`)."""
        bucket = aws.s3.Bucket(resource_name, bucket=bucket_name, force_destroy=False, tags=tags, opts=opts)
        aws.s3.BucketVersioning(
            resource_name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=opts,
        )
        aws.s3.BucketPublicAccessBlock(
            resource_name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketOwnershipControls(
            resource_name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=opts,
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
