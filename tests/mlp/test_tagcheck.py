"""Tag checks over any document: coverage of the six keys, and the limits AWS enforces."""

from mlp.state import StateResource
from mlp.tagcheck import aws_tag_coverage, tag_limit_problems

SIX = {"CostCenter": "CC", "Environment": "dev", "Project": "mlplatform", "Team": "t", "Component": "network", "ManagedBy": "pulumi"}


def _bucket(tags: dict, name: str = "b") -> StateResource:
    return StateResource(urn=f"urn:pulumi:dev::p::aws:s3/bucket:Bucket::{name}", type="aws:s3/bucket:Bucket", custom=True, tags=tags)


def test_coverage_counts_only_taggable_resources_and_names_missing_keys():
    policy = StateResource(urn="urn:pulumi:dev::p::aws:s3/bucketPolicy:BucketPolicy::p", type="aws:s3/bucketPolicy:BucketPolicy", custom=True)
    coverage = aws_tag_coverage([_bucket(SIX, "good"), _bucket({k: v for k, v in SIX.items() if k != "Team"}, "bad"), policy])
    assert coverage.checked == 2 and coverage.covered == 1
    assert coverage.missing == {"urn:pulumi:dev::p::aws:s3/bucket:Bucket::bad": ["Team"]}
    assert coverage.percent == 50.0


def test_tags_aws_would_refuse_are_reported():
    too_many = {**SIX, **{f"extra{i}": "x" for i in range(45)}}
    assert tag_limit_problems([_bucket(SIX)]) == {}
    assert tag_limit_problems([_bucket(too_many)]) == {_bucket(too_many).urn: ["51 tags (AWS allows 50)"]}
    (problems,) = tag_limit_problems([_bucket({**SIX, "aws:owner": "x", "Note": "n" * 257})]).values()
    assert any("aws: prefix" in p for p in problems) and any("longer than 256" in p for p in problems)
