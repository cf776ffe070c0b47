"""Every store encrypted at rest, S3 buckets private, versioned, logged and TLS-only, logs kept for
a bounded time, images scanned and kept immutable.

In pulumi-aws v7 a bucket's encryption, versioning, logging, public-access block, ownership and
lifecycle are resources of their own (awsguard's `s3-bucket-logging-enabled` read `loggings` off
the bucket, which v7 no longer has): the S3 rules are stack rules that look for the resource
configuring each bucket.
"""

from __future__ import annotations

from components.config import has_instance_storage
from policy.model import Resource, Rule, Stack, StackRule, as_list, condition_keys, of_types, statements, truthy

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")


def _setting(kind: str) -> tuple[str, str]:
    """A bucket setting's v7 type and its deprecated V2 alias."""
    name = kind[0].upper() + kind[1:]
    return f"aws:s3/{kind}:{name}", f"aws:s3/{kind}V2:{name}V2"


ENCRYPTION = _setting("bucketServerSideEncryptionConfiguration")
VERSIONING = _setting("bucketVersioning")
LOGGING = _setting("bucketLogging")
LIFECYCLE = _setting("bucketLifecycleConfiguration")
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
ENCRYPTION_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "AES256")
MAX_RETENTION_DAYS = 3653
PROD_MIN_RETENTION_DAYS = 365


def bucket_rule(name: str, description: str, setting_types: tuple[str, ...], good, why: str, source=None,
                exempt=lambda stack, bucket: False) -> StackRule:
    """A stack rule: every bucket has a resource of `setting_types` for which `good(setting)` holds."""
    def check(stack: Stack) -> list[tuple[str, str]]:
        found = []
        for bucket in stack.of_type(*BUCKET_TYPES):
            if exempt(stack, bucket):
                continue
            if not any(good(setting) for setting in stack.referencing(bucket, "bucket", *setting_types)):
                found.append((bucket.urn, why))
        return found
    return StackRule(name, description, check, source)


def _encrypts(setting: Resource) -> bool:
    return any(((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") in ENCRYPTION_ALGORITHMS)
               for rule in as_list(setting.props.get("rules")))


def _versioned(setting: Resource) -> bool:
    return (setting.props.get("versioningConfiguration") or {}).get("status") == "Enabled"


def _blocks_public_access(setting: Resource) -> bool:
    return all(truthy(setting.props.get(flag)) for flag in PUBLIC_ACCESS_FLAGS)


def denies_insecure_transport(policy: object) -> bool:
    return any(statement.get("Effect") == "Deny" and str(condition_keys(statement).get("aws:securetransport")).lower() == "false"
               for statement in statements(policy))


def _tls_only(setting: Resource) -> bool:
    return denies_insecure_transport(setting.props.get("policy"))


def _logs(setting: Resource) -> bool:
    return bool(setting.props.get("targetBucket"))


def _acls_disabled(setting: Resource) -> bool:
    return (setting.props.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced"


def _expires_noncurrent_versions(setting: Resource) -> bool:
    return any(rule.get("status") == "Enabled" and rule.get("noncurrentVersionExpiration") for rule in as_list(setting.props.get("rules")))


def is_log_target(stack: Stack, bucket: Resource) -> bool:
    """A bucket other buckets log into: logging it into itself would log its own log deliveries."""
    return any(any(found is bucket for found in stack.referenced(logging, "targetBucket", *BUCKET_TYPES)) for logging in stack.of_type(*LOGGING))


def is_unversioned(stack: Stack, bucket: Resource) -> bool:
    return not any(_versioned(setting) for setting in stack.referencing(bucket, "bucket", *VERSIONING))


def _encrypted_with_key(field: str, what: str):
    def check(resource: Resource) -> list[str]:
        return [] if resource.props.get(field) else [f"{what} must be encrypted with a KMS key ({field})"]
    return check


def _efs(resource: Resource) -> list[str]:
    return [] if truthy(resource.props.get("encrypted")) and resource.props.get("kmsKeyId") else ["the file system must be encrypted with a KMS key"]


def _sqs(resource: Resource) -> list[str]:
    props = resource.props
    return [] if truthy(props.get("sqsManagedSseEnabled")) or props.get("kmsMasterKeyId") else ["the queue must be encrypted (SSE-SQS or a KMS key)"]


def _retention(resource: Resource) -> list[str]:
    days = resource.props.get("retentionInDays")
    if not days:
        return ["retentionInDays is not set: the log group keeps (and bills) every event forever"]
    if days > MAX_RETENTION_DAYS:
        return [f"retentionInDays {days:g} is above {MAX_RETENTION_DAYS}"]
    if resource.environment == "prod" and days < PROD_MIN_RETENTION_DAYS:
        return [f"prod logs are kept at least {PROD_MIN_RETENTION_DAYS} days, got {days:g}"]
    return []


def _ecr_kms(resource: Resource) -> list[str]:
    kinds = [config.get("encryptionType") for config in as_list(resource.props.get("encryptionConfigurations"))]
    return [] if "KMS" in kinds else ["the repository must be encrypted with a KMS key"]


def _ecr_scan(resource: Resource) -> list[str]:
    return [] if truthy((resource.props.get("imageScanningConfiguration") or {}).get("scanOnPush")) else ["images must be scanned on push"]


def _ecr_immutable(resource: Resource) -> list[str]:
    if resource.environment == "dev" or resource.props.get("imageTagMutability") == "IMMUTABLE":
        return []
    return ["tags must be immutable outside dev, so a promoted image is the one that was tested"]


def _ecr_lifecycle(stack: Stack) -> list[tuple[str, str]]:
    return [(repository.urn, "the repository has no lifecycle policy: untagged and old images are kept and billed forever")
            for repository in stack.of_type("aws:ecr/repository:Repository")
            if not stack.referencing(repository, "repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy")]


def _sagemaker(resource: Resource) -> list[str]:
    props = resource.props
    problems = []
    capture = props.get("dataCaptureConfig") or {}
    if capture and not capture.get("kmsKeyId"):
        problems.append("captured requests must be encrypted with a KMS key (dataCaptureConfig.kmsKeyId)")
    with_volumes = [variant.get("instanceType") for variant in as_list(props.get("productionVariants"))
                    if variant.get("instanceType") and not has_instance_storage(variant["instanceType"])]
    if with_volumes and not props.get("kmsKeyArn"):
        problems.append(f"the ML storage volumes of {', '.join(with_volumes)} must be encrypted with a KMS key (kmsKeyArn)")
    return problems


def _rotation(resource: Resource) -> list[str]:
    return [] if truthy(resource.props.get("enableKeyRotation")) else ["the key does not rotate (enableKeyRotation)"]


STACK_RULES = (
    bucket_rule("s3-buckets-encrypted", "Every S3 bucket has a default encryption configuration.", ENCRYPTION, _encrypts,
                "no BucketServerSideEncryptionConfiguration with a default algorithm configures this bucket"),
    bucket_rule("s3-buckets-versioned", "Every S3 bucket is versioned.", VERSIONING, _versioned, "no BucketVersioning enables versioning here"),
    bucket_rule("s3-buckets-block-public-access", "Every S3 bucket blocks all four kinds of public access.", PUBLIC_ACCESS_BLOCK,
                _blocks_public_access, "no BucketPublicAccessBlock sets all four flags for this bucket"),
    bucket_rule("s3-buckets-tls-only", "Every S3 bucket's policy refuses requests without TLS.", BUCKET_POLICY, _tls_only,
                "no BucketPolicy denies aws:SecureTransport false here"),
    bucket_rule("s3-bucket-logging-enabled", "Every S3 bucket logs access (into a log bucket, which does not log itself).", LOGGING, _logs,
                "no BucketLogging sends this bucket's access logs anywhere", source="s3-bucket-logging-enabled", exempt=is_log_target),
    bucket_rule("s3-buckets-acls-disabled", "Every S3 bucket disables ACLs (object ownership BucketOwnerEnforced).", OWNERSHIP, _acls_disabled,
                "no BucketOwnershipControls enforces bucket-owner ownership here"),
    bucket_rule("s3-noncurrent-versions-expire", "Versioned S3 buckets expire noncurrent versions, so overwrites are not kept and billed forever.",
                LIFECYCLE, _expires_noncurrent_versions, "no enabled lifecycle rule expires noncurrent versions here", exempt=is_unversioned),
    StackRule("ecr-lifecycle-policy", "Every ECR repository has a lifecycle policy.", _ecr_lifecycle),
)

RULES = (
    Rule("efs-encrypted", "EFS file systems are encrypted with a KMS key.", of_types("aws:efs/fileSystem:FileSystem"), _efs, source="efs-encrypted"),
    Rule("sns-topics-encrypted", "SNS topics are encrypted with a KMS key.", of_types("aws:sns/topic:Topic"),
         _encrypted_with_key("kmsMasterKeyId", "the topic")),
    Rule("sqs-queues-encrypted", "SQS queues are encrypted at rest.", of_types("aws:sqs/queue:Queue"), _sqs),
    Rule("log-groups-encrypted", "CloudWatch log groups are encrypted with a KMS key.", of_types("aws:cloudwatch/logGroup:LogGroup"),
         _encrypted_with_key("kmsKeyId", "the log group")),
    Rule("log-retention-bounds", f"CloudWatch log groups keep events for a set time: at most {MAX_RETENTION_DAYS} days, in prod at least {PROD_MIN_RETENTION_DAYS}.",
         of_types("aws:cloudwatch/logGroup:LogGroup"), _retention),
    Rule("ecr-repositories-kms-encrypted", "ECR repositories are encrypted with a KMS key.", of_types("aws:ecr/repository:Repository"), _ecr_kms),
    Rule("ecr-scan-on-push", "ECR repositories scan every image pushed.", of_types("aws:ecr/repository:Repository"), _ecr_scan),
    Rule("ecr-tags-immutable-outside-dev", "ECR tags are immutable in every environment but dev.", of_types("aws:ecr/repository:Repository"), _ecr_immutable),
    Rule("sagemaker-endpoints-encrypted", "SageMaker endpoint configurations encrypt captured data and ML storage volumes with a KMS key.",
         of_types("aws:sagemaker/endpointConfiguration:EndpointConfiguration"), _sagemaker),
    Rule("kms-key-rotation", "Customer-managed KMS keys rotate.", of_types("aws:kms/key:Key"), _rotation, source="cmk-backing-key-rotation-enabled"),
)
