"""Storage figures computed by hand from the catalogue: S3 classes, EBS types, claimed volumes."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, priced, resource, usd


def test_s3_bucket_storage_by_class_and_requests(tmp_path):
    document = export(resource("aws:s3/bucket:Bucket", "lake"))
    usage = {"resource_usage": {"lake": {
        "standard": {"storage_gb": 1000, "monthly_tier_1_requests": 100_000, "monthly_tier_2_requests": 1_000_000},
        "standard_infrequent_access": {"storage_gb": 500},
        "glacier_instant_retrieval": {"storage_gb": 1000},
    }}}
    # 1000 x 0.023 + 100 x 0.005 + 1000 x 0.0004 + 500 x 0.0125 + 1000 x 0.004
    assert cost_of(document, "lake", usage, tmp_path).monthly_cost == usd("23.00") + usd("0.50") + usd("0.40") + usd("6.25") + usd("4.00")


def test_ebs_gp3_pays_only_iops_and_throughput_above_the_baseline_and_io2_is_tiered():
    document = export(
        resource("aws:ebs/volume:Volume", "fast", {"type": "gp3", "size": 100, "iops": 6000, "throughput": 250}),
        resource("aws:ebs/volume:Volume", "baseline", {"type": "gp3", "size": 100, "iops": 3000, "throughput": 125}),
        resource("aws:ebs/volume:Volume", "db", {"type": "io2", "size": 100, "iops": 40000}),
        resource("aws:ebs/volume:Volume", "cold", {"type": "sc1", "size": 1000}),
    )
    costs = {c.resource.name: c.monthly_cost for c in priced(document).costs}
    assert costs["fast"] == usd("8.00") + 3000 * usd("0.005") + 125 * usd("0.04")
    assert costs["baseline"] == usd("8.00")
    assert costs["db"] == usd("12.50") + 32000 * usd("0.065") + 8000 * usd("0.0455")
    assert costs["cold"] == usd("15.00")


def test_persistent_volume_claims_use_their_storage_class():
    storage_class = resource("kubernetes:storage.k8s.io/v1:StorageClass", "fast", {"metadata": {"name": "fast"}, "parameters": {"type": "gp2"}})
    claim = resource("kubernetes:core/v1:PersistentVolumeClaim", "data", {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "200Gi"}}}})
    assert cost_of(export(storage_class, claim), "data").monthly_cost == usd("20.00")



def test_an_ebs_volume_without_a_type_is_gp2_as_create_volume_makes_it():
    volume = cost_of(export(resource("aws:ebs/volume:Volume", "data", {"size": 100})), "data")
    assert volume.monthly_cost == 100 * usd("0.10")
    assert volume.components[0].name == "Volume: storage (gp2)"


def test_a_claim_without_a_class_takes_the_default_class_else_the_csi_drivers_gp3():
    default = resource("kubernetes:storage.k8s.io/v1:StorageClass", "slow", {"metadata": {"name": "slow", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}, "parameters": {"type": "sc1"}})
    claim = resource("kubernetes:core/v1:PersistentVolumeClaim", "data", {"spec": {"resources": {"requests": {"storage": "1000Gi"}}}})
    assert cost_of(export(default, claim), "data").monthly_cost == 1000 * usd("0.015")
    alone = cost_of(export(claim), "data")
    assert alone.monthly_cost == 1000 * usd("0.08")
    assert alone.notes == ["Volume: StorageClass (cluster default) is not in the document: the EBS CSI driver's default gp3 assumed"]


def test_s3_standard_storage_tiers_count_every_bucket_of_the_stack(tmp_path):
    document = export(resource("aws:s3/bucket:Bucket", "raw"), resource("aws:s3/bucket:Bucket", "curated"))
    usage = {"resource_type_default_usage": {"aws:s3/bucket:Bucket": {"standard": {"storage_gb": 40_000}}}}
    result = priced(document, usage, tmp_path)
    # 80,000 GB together: 51,200 GB (50 TB) at $0.023, 28,800 GB at $0.022; each bucket pays half.
    assert result.total == 51_200 * usd("0.023") + 28_800 * usd("0.022")
    assert [c.monthly_cost for c in result.costs] == [usd("905.60"), usd("905.60")]
    assert "volume tiers over the stack's 80000 GB-months" in result.costs[0].components[0].name
    alone = priced(export(resource("aws:s3/bucket:Bucket", "raw")), usage, tmp_path)
    assert alone.total == 40_000 * usd("0.023")  # below the first tier's end
