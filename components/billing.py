"""Billing exports: what finance needs to say who spent what, month by month, from AWS's own bill.

- A CUR 2.0 data export with split cost allocation data: EKS splits every shared node's cost by
  the CPU and memory its pods reserved or used, and imports the pods' Kubernetes labels (the
  cost contract's `mlplatform.io/team`, `mlplatform.io/component`) as cost allocation tags, so a
  GPU node the platform team owns is billed to the teams whose notebooks and jobs ran on it, and
  what no pod used shows as unused (idle) cost.
- A FOCUS 1.0 export beside it for tools that read FOCUS.
- A billing bucket (SSE-S3: the Data Exports bucket policy AWS documents grants the service
  s3:PutObject only, no KMS key use), private, versioned, TLS-only, logged into the lake's access
  log bucket, tiered to Glacier and expired after finance's retention.
- A Glue table over the CUR 2.0 files with partition projection (no crawler), and an Athena
  workgroup whose settings override clients': encrypted results in the billing bucket and a
  bytes-scanned limit per query. `mlp report --source athena` queries it.

The exports, bucket, table and workgroup cover the whole account, so only the stack that owns
account-wide billing resources declares them (the one that activates the cost-allocation tags,
`budgets.activateCostAllocationTags`): two stacks would fight over them, and destroying one would
take finance's history with it. Every stack has its own cost anomaly monitors (its environment, and
each team within it) subscribed to the platform's alert topic.

Split cost allocation data itself is an account-level opt-in with no API (Billing console, Cost
Management preferences); `mlp report --source athena` says whether the export carries split data.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_aws as aws

from components.config.billing import BillingConfig
from components.facts import StackFacts
from components.iam import account_id_of, deny_insecure_transport, policy_document
from components.tagging import CostTagging

COMPONENT = "cost-controls"
# Data Exports is served from us-east-1 whatever the bucket's region; its source ARNs name it.
DATA_EXPORTS_REGION = "us-east-1"
CUR_TABLE = "COST_AND_USAGE_REPORT"
FOCUS_TABLE = "FOCUS_1_0_AWS"
EXPORTS_PREFIX = "exports"
RESULTS_PREFIX = "athena-results"
PARTITION_KEY = "billing_period"
# CUR 2.0 columns the platform reads (AWS Data Exports table dictionary, "Cost and Usage Report
# (CUR) 2.0"), with their Athena types. Parquet is read by column name, so the table declares
# exactly what the export selects.
CUR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("bill_billing_period_start_date", "timestamp"),
    ("bill_billing_period_end_date", "timestamp"),
    ("bill_invoice_id", "string"),
    ("bill_payer_account_id", "string"),
    ("line_item_usage_account_id", "string"),
    ("line_item_line_item_type", "string"),
    ("line_item_usage_start_date", "timestamp"),
    ("line_item_usage_end_date", "timestamp"),
    ("line_item_product_code", "string"),
    ("line_item_usage_type", "string"),
    ("line_item_resource_id", "string"),
    ("line_item_currency_code", "string"),
    ("line_item_unblended_cost", "double"),
    ("line_item_net_unblended_cost", "double"),
    ("pricing_public_on_demand_cost", "double"),
    ("product", "map<string,string>"),
    ("product_instance_type", "string"),
    ("resource_tags", "map<string,string>"),
    ("split_line_item_parent_resource_id", "string"),
    ("split_line_item_split_usage_ratio", "double"),
    ("split_line_item_split_cost", "double"),
    ("split_line_item_unused_cost", "double"),
    ("split_line_item_net_split_cost", "double"),
    ("split_line_item_net_unused_cost", "double"),
)
FOCUS_COLUMNS = (
    "BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "EffectiveCost", "ListCost", "ProviderName", "RegionId",
    "ResourceId", "ServiceCategory", "ServiceName", "SubAccountId", "Tags",
)
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def export_names(project: str) -> dict[str, str]:
    return {"cur": f"{project}-cur2", "focus": f"{project}-focus"}


def athena_names(project: str) -> dict[str, str]:
    """Where `mlp report --source athena` looks, derived from the project like the resources here."""
    return {"workgroup": f"{project}-billing", "database": f"{project}_billing".replace("-", "_"), "table": "cur2"}


def export_location(bucket: str, project: str, kind: str = "cur") -> str:
    """Data Exports writes `<prefix>/<export name>/data/BILLING_PERIOD=YYYY-MM/` under the bucket."""
    return f"s3://{bucket}/{EXPORTS_PREFIX}/{export_names(project)[kind]}/data"


def cur_query() -> str:
    return f"SELECT {', '.join(name for name, _ in CUR_COLUMNS)} FROM {CUR_TABLE}"


def focus_query() -> str:
    return f"SELECT {', '.join(FOCUS_COLUMNS)} FROM {FOCUS_TABLE}"


def data_exports_statements(bucket_arn: str, account_id: str) -> list[dict]:
    """The bucket policy AWS documents for Data Exports ("Setting up an Amazon S3 bucket for data
    exports"): both export services may write and check the policy, only for this account's exports."""
    return [{
        "Sid": "EnableAWSDataExportsToWriteToS3AndCheckPolicy",
        "Effect": "Allow",
        "Principal": {"Service": ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"]},
        "Action": ["s3:PutObject", "s3:GetBucketPolicy"],
        "Resource": [f"{bucket_arn}/*", bucket_arn],
        "Condition": {"StringLike": {
            "aws:SourceAccount": account_id,
            "aws:SourceArn": [f"arn:aws:cur:{DATA_EXPORTS_REGION}:{account_id}:definition/*",
                              f"arn:aws:bcm-data-exports:{DATA_EXPORTS_REGION}:{account_id}:export/*"],
        }},
    }]


def partition_projection(location: str) -> dict[str, str]:
    """Athena computes the monthly partitions instead of a crawler listing them."""
    return {
        "classification": "parquet",
        "projection.enabled": "true",
        f"projection.{PARTITION_KEY}.type": "date",
        f"projection.{PARTITION_KEY}.format": "yyyy-MM",
        f"projection.{PARTITION_KEY}.range": "2020-01,NOW",
        f"projection.{PARTITION_KEY}.interval": "1",
        f"projection.{PARTITION_KEY}.interval.unit": "MONTHS",
        "storage.location.template": f"{location}/BILLING_PERIOD=${{{PARTITION_KEY}}}/",
    }


def tag_expression(environment: str, team: Optional[str] = None) -> str:
    """A Cost Explorer expression over the cost tags, as an anomaly monitor's specification."""
    environment_tag = {"Tags": {"Key": "Environment", "Values": [environment], "MatchOptions": ["EQUALS"]}}
    if team is None:
        return json.dumps(environment_tag, sort_keys=True)
    team_tag = {"Tags": {"Key": "Team", "Values": [team], "MatchOptions": ["EQUALS"]}}
    return json.dumps({"And": [environment_tag, team_tag]}, sort_keys=True)


class BillingExports(pulumi.ComponentResource):
    def __init__(self, name: str, settings: BillingConfig, facts: StackFacts, tagging: CostTagging, *, owns_account_billing: bool,
                 alert_topic_arn: pulumi.Input[str], access_log_bucket_name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:cost-controls:BillingExports", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = tagging.resource_tags(COMPONENT)

        self.bucket_name: Optional[pulumi.Output[str]] = None
        self.workgroup_name: Optional[pulumi.Output[str]] = None
        if owns_account_billing:
            if settings.export_bucket_name is None:  # config rules this out; say so if a what-if copy does not
                raise ValueError("billing.exportBucketName is required in the stack that owns account-wide billing resources")
            self._exports(name, settings, facts, tagging, access_log_bucket_name)

        # One monitor for the environment's spend, one per team within it: scope -> (suffix, team, threshold).
        scopes = {"environment": ("environment", None, settings.anomalies.environment_threshold_usd)}
        scopes.update({team: (f"team-{team}", team, settings.anomalies.threshold_of(team)) for team in facts.team_names})
        self.monitors: dict[str, aws.costexplorer.AnomalyMonitor] = {}
        self.subscriptions: dict[str, aws.costexplorer.AnomalySubscription] = {}
        for scope, (suffix, team, threshold) in scopes.items():
            scope_tags = tagging.resource_tags(COMPONENT, team) if team else tags
            monitor = aws.costexplorer.AnomalyMonitor(
                f"{name}-{suffix}", name=f"{facts.name_prefix}-{suffix}", monitor_type="CUSTOM",
                monitor_specification=tag_expression(facts.environment, team), tags=scope_tags, opts=child,
            )
            self.monitors[scope] = monitor
            self.subscriptions[scope] = aws.costexplorer.AnomalySubscription(
                f"{name}-{suffix}",
                name=f"{facts.name_prefix}-{suffix}",
                # Cost Anomaly Detection only sends to SNS immediately, anomaly by anomaly.
                frequency="IMMEDIATE",
                monitor_arn_lists=[monitor.arn],
                subscribers=[aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="SNS", address=alert_topic_arn)],
                threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
                    dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                        key="ANOMALY_TOTAL_IMPACT_ABSOLUTE", match_options=["GREATER_THAN_OR_EQUAL"],
                        values=[f"{threshold:g}"],
                    ),
                ),
                tags=scope_tags,
                opts=child,
            )
        self.monitor_arns = {scope: monitor.arn for scope, monitor in self.monitors.items()}
        self.register_outputs({"billingBucket": self.bucket_name, "athenaWorkgroup": self.workgroup_name, "anomalyMonitorArns": self.monitor_arns})

    def _exports(self, name: str, settings: BillingConfig, facts: StackFacts, tagging: CostTagging, access_log_bucket_name: str) -> None:
        # Finance's history: kept like the lake's data where the lake is protected.
        keep = facts.keep(self)
        tags = tagging.resource_tags(COMPONENT)
        bucket_name = settings.export_bucket_name
        account_id = account_id_of(self)
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=False, tags=tags, opts=keep)
        aws.s3.BucketVersioning(f"{name}-bucket", bucket=bucket.id,
                                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"), opts=keep)
        aws.s3.BucketPublicAccessBlock(f"{name}-bucket", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, opts=keep)
        aws.s3.BucketOwnershipControls(f"{name}-bucket", bucket=bucket.id,
                                       rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=keep)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket",
            bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256"),
            )],
            opts=keep,
        )
        aws.s3.BucketLogging(f"{name}-bucket", bucket=bucket.id, target_bucket=access_log_bucket_name, target_prefix="billing/", opts=keep)
        every_export = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=f"{EXPORTS_PREFIX}/")
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-bucket",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions", status="Enabled", filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=settings.noncurrent_version_expiry_days),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=7),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="tier-and-expire-exports", status="Enabled", filter=every_export,
                    transitions=[aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=settings.glacier_after_days, storage_class="GLACIER_IR")],
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=settings.expire_after_days),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-query-results", status="Enabled", filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=f"{RESULTS_PREFIX}/"),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=settings.query_results_expiry_days),
                ),
            ],
            opts=keep,
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-bucket",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, account_id).apply(lambda args: policy_document([
                deny_insecure_transport("s3:*", [args[0], f"{args[0]}/*"]),
                *data_exports_statements(args[0], args[1]),
            ])),
            opts=keep,
        )

        # Data Exports answers only in us-east-1, whatever the stack's region: elsewhere the exports
        # get a provider of their own there, with the stack's default tags. AWS checks the bucket
        # policy when an export is created: the policy comes first.
        exports_provider = None
        if facts.region != DATA_EXPORTS_REGION:
            exports_provider = aws.Provider(
                f"{name}-{DATA_EXPORTS_REGION}",
                region=DATA_EXPORTS_REGION,
                profile=facts.aws_profile,
                default_tags=aws.ProviderDefaultTagsArgs(tags=tagging.default_tags()),
                opts=pulumi.ResourceOptions(parent=self),
            )
        after_policy = pulumi.ResourceOptions(parent=self, provider=exports_provider, depends_on=[policy])
        # The account's own (primary) billing view: what the CUR 2.0 table is read through.
        billing_view = account_id.apply(lambda account: f"arn:aws:billing::{account}:billingview/primary")
        names = export_names(facts.project)
        self.exports = {
            "cur": self._export(f"{name}-cur2", names["cur"], cur_query(), {CUR_TABLE: billing_view.apply(lambda arn: {
                "BILLING_VIEW_ARN": arn,
                "TIME_GRANULARITY": settings.time_granularity,
                "INCLUDE_RESOURCES": "TRUE",  # split cost allocation needs resource ids (nodes, pods)
                "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "TRUE",
                "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
            })}, bucket, facts, tags, after_policy),
        }
        if settings.focus_export:
            self.exports["focus"] = self._export(f"{name}-focus", names["focus"], focus_query(), None, bucket, facts, tags, after_policy)

        athena = athena_names(facts.project)
        database = aws.glue.CatalogDatabase(f"{name}-catalog", name=athena["database"], description="AWS billing exports (CUR 2.0, FOCUS)",
                                            location_uri=f"s3://{bucket_name}/{EXPORTS_PREFIX}/", tags=tags, opts=keep)
        location = export_location(bucket_name, facts.project)
        aws.glue.CatalogTable(
            f"{name}-cur2",
            name=athena["table"],
            database_name=database.name,
            description="CUR 2.0 with split cost allocation data, one partition per billing period",
            table_type="EXTERNAL_TABLE",
            parameters=partition_projection(location),
            partition_keys=[aws.glue.CatalogTablePartitionKeyArgs(name=PARTITION_KEY, type="string")],
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=f"{location}/",
                input_format=PARQUET_INPUT,
                output_format=PARQUET_OUTPUT,
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(serialization_library=PARQUET_SERDE),
                columns=[aws.glue.CatalogTableStorageDescriptorColumnArgs(name=column, type=kind) for column, kind in CUR_COLUMNS],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=athena["workgroup"],
            description="Finance queries over the billing exports (mlp report --source athena)",
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=settings.query_scan_limit_bytes,
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=f"s3://{bucket_name}/{RESULTS_PREFIX}/",
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(encryption_option="SSE_S3"),
                ),
            ),
            force_destroy=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bucket_name = bucket.bucket
        self.workgroup_name = workgroup.name

    def _export(self, resource_name: str, export_name: str, query: str, table_configurations, bucket: aws.s3.Bucket, facts: StackFacts,
                tags: dict, opts: pulumi.ResourceOptions) -> aws.bcmdata.Export:
        return aws.bcmdata.Export(
            resource_name,
            export=aws.bcmdata.ExportExportArgs(
                name=export_name,
                description=f"{export_name}: the account's bill for finance (see components/billing.py)",
                data_queries=[aws.bcmdata.ExportExportDataQueryArgs(query_statement=query, table_configurations=table_configurations)],
                destination_configurations=[aws.bcmdata.ExportExportDestinationConfigurationArgs(s3_destinations=[
                    aws.bcmdata.ExportExportDestinationConfigurationS3DestinationArgs(
                        s3_bucket=bucket.bucket,
                        s3_prefix=EXPORTS_PREFIX,
                        s3_region=facts.region,
                        s3_output_configurations=[aws.bcmdata.ExportExportDestinationConfigurationS3DestinationS3OutputConfigurationArgs(
                            compression="PARQUET", format="PARQUET", output_type="CUSTOM", overwrite="OVERWRITE_REPORT",
                        )],
                    ),
                ])],
                refresh_cadences=[aws.bcmdata.ExportExportRefreshCadenceArgs(frequency="SYNCHRONOUS")],
            ),
            tags=tags,
            opts=opts,
        )
