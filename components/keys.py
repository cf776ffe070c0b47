"""Customer-managed KMS keys for what AWS services encrypt on the platform's behalf: log groups, the
budget alert topic, the cluster's Secrets.

An AWS service can only use a key whose key policy names it (an AWS-managed key like aws/sns cannot
be shared with AWS Budgets, and CloudWatch Logs never reads IAM policies), so each key here carries
its own policy: the account's statement that lets IAM policies decide everything else (the default
key policy, kept so administrators are never locked out), plus one statement per service that
uses the key, scoped to the account and resource it acts for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import pulumi
import pulumi_aws as aws

from components.iam import account_id_of, policy_document

# CloudWatch Logs' own actions on a log group's key (Amazon CloudWatch Logs User Guide, "Encrypt
# log data in CloudWatch Logs using AWS KMS").
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


def account_statement(account_id: str) -> dict:
    """The default key policy: the account, and so its IAM policies, decide who uses the key."""
    return {"Sid": "AccountDelegatesToIam", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*", "Resource": "*"}


def log_group_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def logs_statement(region: str, account_id: str, log_group_name: str) -> dict:
    """CloudWatch Logs may use the key for this one log group (its encryption context names it)."""
    return {
        "Sid": "CloudWatchLogsEncryptsItsLogGroup",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": list(LOGS_KEY_ACTIONS),
        "Resource": "*",
        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn(region, account_id, log_group_name)}},
    }


def service_key(
    resource_name: str,
    *,
    description: str,
    alias: str,
    statements: Callable[..., list[dict]],
    deletion_window_days: int,
    tags: dict,
    opts: pulumi.ResourceOptions,
    statement_inputs: Sequence[pulumi.Input[str]] = (),
) -> aws.kms.Key:
    """A rotated key whose policy is the account statement plus `statements(account_id, *statement_inputs)`."""
    key = aws.kms.Key(
        resource_name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=deletion_window_days,
        policy=pulumi.Output.all(account_id_of(opts.parent), *statement_inputs).apply(
            lambda values: policy_document([account_statement(values[0]), *statements(*values)])
        ),
        tags=tags,
        opts=opts,
    )
    aws.kms.Alias(resource_name, name=f"alias/{alias}", target_key_id=key.key_id, opts=opts)
    return key


def encrypted_log_group(
    resource_name: str,
    *,
    name: str,
    region: str,
    retention_days: int,
    alias: str,
    tags: dict,
    opts: pulumi.ResourceOptions,
    deletion_window_days: int = 30,
) -> aws.cloudwatch.LogGroup:
    """A log group with a retention period and a key of its own that only CloudWatch Logs may use for it."""
    key = service_key(
        f"{resource_name}-key",
        description=f"Encryption of the log group {name}",
        alias=alias,
        statements=lambda account_id: [logs_statement(region, account_id, name)],
        deletion_window_days=deletion_window_days,
        tags=tags,
        opts=opts,
    )
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=name,
        retention_in_days=retention_days,
        kms_key_id=key.arn,
        tags=tags,
        opts=opts,
    )
