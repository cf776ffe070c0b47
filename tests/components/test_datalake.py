"""Data lake per stack: every zone bucket private, encrypted, versioned, TLS-only, logged, tiered;
teams read everything but other teams' captures and write only their own prefix, through roles only
their own pods get; prod data and everything it depends on survives `pulumi destroy`."""

import json

import pytest

from tests.conftest import planned


def _by_bucket(stack, type_token):
    """Resources of a bucket sub-resource type, keyed by the bucket they configure."""
    run = planned(stack).run
    bucket_names = {r.id: r.inputs["bucket"] for r in run.by_type("aws:s3/bucket:Bucket")}
    return {bucket_names[r.inputs["bucket"]]: r for r in run.by_type(type_token)}


LAKE = "mlplatform:datalake:DataLake$"


def _lake(resources):
    """The data lake's own resources (the billing exports' bucket and catalog are cost-controls')."""
    return [r for r in resources if LAKE in r.urn]


def _zone_buckets(stack):
    lake = planned(stack).config.datalake
    return {zone.name: lake.bucket_name(zone.name) for zone in lake.zones}


def test_one_bucket_per_zone_plus_access_logs(stack):
    lake = planned(stack).config.datalake
    names = {r.inputs["bucket"] for r in _lake(planned(stack).run.by_type("aws:s3/bucket:Bucket"))}
    assert names == set(_zone_buckets(stack).values()) | {lake.access_log_bucket_name}


def test_every_bucket_is_versioned_private_and_owner_enforced(stack):
    versioning = _by_bucket(stack, "aws:s3/bucketVersioning:BucketVersioning")
    blocks = _by_bucket(stack, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    ownership = _by_bucket(stack, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    buckets = {r.inputs["bucket"] for r in planned(stack).run.by_type("aws:s3/bucket:Bucket")}
    assert set(versioning) == set(blocks) == set(ownership) == buckets
    for name in buckets:
        assert versioning[name].inputs["versioningConfiguration"]["status"] == "Enabled"
        assert all(blocks[name].inputs[key] is True for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        assert ownership[name].inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"


def test_zone_buckets_use_the_lake_key_with_bucket_keys(stack):
    run = planned(stack).run
    (key,) = [k for k in run.by_type("aws:kms/key:Key") if "mlplatform:datalake:DataLake$" in k.urn]
    assert key.inputs["enableKeyRotation"] is True
    encryption = _by_bucket(stack, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    for bucket in _zone_buckets(stack).values():
        (rule,) = encryption[bucket].inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}
        assert rule["bucketKeyEnabled"] is True
    # S3 server access logging can only deliver into SSE-S3 buckets.
    log_bucket = planned(stack).config.datalake.access_log_bucket_name
    assert encryption[log_bucket].inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_every_bucket_refuses_plain_http(stack):
    for bucket, policy in _by_bucket(stack, "aws:s3/bucketPolicy:BucketPolicy").items():
        statements = json.loads(policy.inputs["policy"])["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny[0]["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_zone_buckets_log_access_to_the_log_bucket(stack):
    lake = planned(stack).config.datalake
    run = planned(stack).run
    log_bucket_id = next(r.id for r in run.by_type("aws:s3/bucket:Bucket") if r.inputs["bucket"] == lake.access_log_bucket_name)
    logging = {bucket: r for bucket, r in _by_bucket(stack, "aws:s3/bucketLogging:BucketLogging").items() if LAKE in r.urn}
    assert set(logging) == set(_zone_buckets(stack).values())
    for zone, bucket in _zone_buckets(stack).items():
        assert logging[bucket].inputs["targetBucket"] == log_bucket_id
        assert logging[bucket].inputs["targetPrefix"] == f"{zone}/"


def test_lifecycle_rules_follow_config(stack):
    lake = planned(stack).config.datalake
    lifecycle = _by_bucket(stack, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    for zone in lake.zones:
        rules = {rule["id"]: rule for rule in lifecycle[lake.bucket_name(zone.name)].inputs["rules"]}
        assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == zone.noncurrent_version_expiry_days
        tiering = rules.get("tier-and-expire", {})
        transitions = {t["storageClass"]: t["days"] for t in tiering.get("transitions", [])}
        expected = {}
        if zone.infrequent_access_after_days:
            expected["STANDARD_IA"] = zone.infrequent_access_after_days
        if zone.glacier_after_days:
            expected["GLACIER_IR"] = zone.glacier_after_days
        assert transitions == expected
        assert tiering.get("expiration", {}).get("days") == zone.expire_after_days
        assert all(rule["status"] == "Enabled" for rule in rules.values())
    log_rules = lifecycle[lake.access_log_bucket_name].inputs["rules"]
    assert log_rules[0]["expiration"]["days"] == lake.access_log_retention_days


def test_a_glue_database_per_zone(stack):
    plan = planned(stack)
    databases = {r.inputs["name"]: r.inputs["locationUri"] for r in _lake(plan.run.by_type("aws:glue/catalogDatabase:CatalogDatabase"))}
    expected = {f"{plan.config.name_prefix}_{zone}".replace("-", "_"): f"s3://{bucket}/" for zone, bucket in _zone_buckets(stack).items()}
    assert databases == expected


def _team_policies(stack):
    run = planned(stack).run
    roles = {r.id: r for r in run.by_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-data")}
    return {roles[p.inputs["role"]].inputs["name"]: json.loads(p.inputs["policy"]) for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] in roles}


def test_a_data_role_per_team_trusted_only_by_that_teams_pods_on_this_cluster(stack):
    plan = planned(stack)
    roles = [r for r in plan.run.by_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-data")]
    assert sorted(r.inputs["tags"]["Team"] for r in roles) == sorted(plan.config.team_names)
    cluster_arn = f"arn:aws:eks:{plan.config.region}:123456789012:cluster/{plan.config.cluster_name}"
    for role in roles:
        team = role.inputs["tags"]["Team"]
        admitted = set()
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
            condition = statement["Condition"]["StringEquals"]
            assert condition["aws:SourceAccount"] == "123456789012"
            assert condition["aws:RequestTag/eks-cluster-arn"] == cluster_arn
            accounts = condition["aws:RequestTag/kubernetes-service-account"]
            admitted |= {(condition["aws:RequestTag/kubernetes-namespace"], account) for account in ([accounts] if isinstance(accounts, str) else accounts)}
        # Its notebook servers, and its Ray and Spark work in its own namespace; no other team's pods.
        distributed = plan.config.distributed
        expected = {("notebooks", f"notebook-{team}")} | ({(team, "ray")} if distributed else set()) \
            | ({(team, "spark")} if distributed and distributed.spark.enabled else set())
        assert admitted == expected


def _statements(policy):
    return {s["Sid"]: s for s in policy["Statement"]}


def test_no_team_reads_another_teams_captured_payloads(stack):
    plan = planned(stack)
    artifacts = f"arn:aws:s3:::{plan.config.datalake.bucket_name('artifacts')}"
    owners = {*plan.config.team_names, plan.config.platform_team}
    for team in plan.config.team_names:
        statements = _statements(_team_policies(stack)[f"{plan.config.name_prefix}-{team}-data"])
        denied = statements["NoOtherTeamsCaptures"]
        assert denied["Effect"] == "Deny" and "s3:GetObject" in denied["Action"]
        assert sorted(denied["Resource"]) == sorted(f"{artifacts}/captures/{owner}/*" for owner in owners - {team})
        listing = statements["NoListingOtherTeamsCaptures"]
        assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == sorted(f"captures/{owner}/*" for owner in owners - {team})
        # Its own captures stay readable: nothing denies them.
        assert not any(f"captures/{team}/" in resource for s in statements.values() if s["Effect"] == "Deny" for resource in s["Resource"])


def test_every_endpoint_captures_under_its_teams_prefix(stack):
    for endpoint in planned(stack).config.endpoints:
        assert endpoint.capture_prefix == f"captures/{endpoint.team}/{endpoint.name}/"


def test_the_lake_key_works_for_teams_only_through_s3(stack):
    plan = planned(stack)
    for policy in _team_policies(stack).values():
        key = _statements(policy)["UseLakeKey"]
        assert key["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{plan.config.region}.amazonaws.com"}}


def test_team_roles_read_all_zones_and_write_only_their_prefix(stack):
    plan = planned(stack)
    lake = plan.config.datalake
    policies = _team_policies(stack)
    assert len(policies) == len(plan.config.teams)
    for team in plan.config.team_names:
        statements = policies[f"{plan.config.name_prefix}-{team}-data"]["Statement"]
        for statement in statements:
            assert all("*" not in action for action in statement["Action"]), statement
        write_actions = {"s3:PutObject", "s3:DeleteObject"}
        writes = [s for s in statements if write_actions & set(s["Action"])]
        (write,) = writes
        expected = sorted(f"arn:aws:s3:::{lake.bucket_name(z.name)}/teams/{team}/*" for z in lake.zones if z.team_writable)
        assert sorted(write["Resource"]) == expected
        reads = next(s for s in statements if "s3:GetObject" in s["Action"])
        assert sorted(reads["Resource"]) == sorted(f"arn:aws:s3:::{bucket}/*" for bucket in _zone_buckets(stack).values())


def test_raw_zone_is_not_team_writable():
    for stack in ("dev", "prod"):
        for policy in _team_policies(stack).values():
            resources = [r for s in policy["Statement"] if "s3:PutObject" in s["Action"] for r in s["Resource"]]
            assert not any("-raw/" in r for r in resources)


@pytest.mark.parametrize("stack,protected", [("dev", False), ("staging", False), ("prod", True)])
def test_prod_data_survives_destroy(stack, protected):
    run = planned(stack).run
    keep = [r for r in run.by_type("aws:s3/bucket:Bucket") + run.by_type("aws:kms/key:Key") if "mlplatform:datalake:DataLake$" in r.urn]
    assert keep and all(r.protect is protected and r.retain_on_delete is protected for r in keep)


@pytest.mark.parametrize("stack,protected", [("dev", False), ("staging", False), ("prod", True)])
def test_everything_prod_data_depends_on_survives_destroy_with_it(stack, protected):
    """A destroy that skips protected buckets must not strip their settings, catalog or logs."""
    run = planned(stack).run
    settings = [r for r in _lake(run.resources) if r.type.startswith("aws:s3/bucket") and r.type != "aws:s3/bucket:Bucket"]
    catalog = _lake(run.by_type("aws:glue/catalogDatabase:CatalogDatabase"))
    aliases = _lake(run.by_type("aws:kms/alias:Alias"))
    # The audit trail of the data: VPC flow logs and the control plane's logs, with their keys.
    audit = ("mlplatform:network:Network$", "mlplatform:compute:Cluster$")
    logs = [r for r in run.by_type("aws:cloudwatch/logGroup:LogGroup") if any(owner in r.urn for owner in audit)]
    log_keys = [r for r in run.by_type("aws:kms/key:Key") if "log" in r.name and any(owner in r.urn for owner in audit)]
    assert len(settings) >= 7 * len(planned(stack).config.datalake.zones) and catalog and aliases and len(logs) == 2 and len(log_keys) == 2
    for resource in settings + catalog + aliases + logs + log_keys:
        assert (resource.protect, resource.retain_on_delete) == (protected, protected), resource.urn


def test_the_access_log_bucket_keeps_versions_briefly_and_takes_load_balancer_logs(stack):
    plan = planned(stack)
    lake = plan.config.datalake
    lifecycle = _by_bucket(stack, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[lake.access_log_bucket_name]
    (rule,) = lifecycle.inputs["rules"]
    assert rule["expiration"]["days"] == lake.access_log_retention_days
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 1
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 1
    policy = _statements(json.loads(_by_bucket(stack, "aws:s3/bucketPolicy:BucketPolicy")[lake.access_log_bucket_name].inputs["policy"]))
    delivery = policy["ApplicationLoadBalancerAccessLogs"]
    elb_account = {"us-east-1": "127311923021", "us-west-2": "797873946194"}[plan.config.region]
    assert delivery["Principal"] == {"AWS": f"arn:aws:iam::{elb_account}:root"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == f"arn:aws:s3:::{lake.access_log_bucket_name}/alb/*/AWSLogs/123456789012/*"
