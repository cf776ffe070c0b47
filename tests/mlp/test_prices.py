"""The shipped price catalogues, and `mlp prices refresh` against a stubbed Price List API
(moto has no Pricing API; botocore's Stubber checks every request we send)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from components.config import sagemaker_hosting_instance_types
from mlp import prices, prices_refresh
from mlp.cli import main
from mlp.errors import UserError
from mlp.prices import PriceSpec, load_catalogue, read_catalogue_file
from mlp.prices_refresh import refresh_catalogue

REGIONS = ("us-east-1", "us-west-2")


@pytest.mark.parametrize("region", REGIONS)
def test_shipped_catalogues_are_dated_and_complete(region):
    catalogue = load_catalogue(region)
    assert catalogue.available and catalogue.region == region and catalogue.currency == "USD"
    assert catalogue.as_of and "Price List API" in catalogue.source
    assert catalogue.price("eks", "clusterHour") == Decimal("0.10")
    assert catalogue.price("vpc", "natGatewayHour") == Decimal("0.045")
    assert catalogue.price("vpc", "natGatewayGb") == Decimal("0.045")
    assert catalogue.price("kms", "keyMonth") == Decimal("1.00")
    for volume in ("gp2", "gp3", "io1", "io2", "st1", "sc1"):
        assert catalogue.price("ebs", volume, "gbMonth") > 0
    for storage_class in ("STANDARD", "STANDARD_IA", "GLACIER_IR", "DEEP_ARCHIVE"):
        assert catalogue.price("s3", storage_class, "gbMonth") > 0
    for path in (("ecr", "storageGbMonth"), ("elb", "albHour"), ("elb", "albLcuHour"), ("cloudwatch", "logsIngestGb"),
                 ("cloudwatch", "logsStorageGbMonth"), ("sagemaker", "serverlessGbSecond"), ("sagemaker", "hostingInstances", "ml.g5.xlarge")):
        assert catalogue.price(*path) > 0, path
    instances = catalogue.instances()
    for family in ("m5", "m6i", "m7i", "c6i", "r6i", "t3", "g4dn", "g5", "g6", "g6e", "p4d", "p5"):
        assert any(i.family == family for i in instances.values()), family
    assert all(i.hourly > 0 and i.vcpu > 0 and i.memory_gib > 0 for i in instances.values())
    assert instances["g5.12xlarge"].gpus == 4 and instances["m5.large"].gpus == 0


def test_a_missing_price_is_none_not_zero():
    catalogue = load_catalogue("us-east-1")
    assert catalogue.price("ec2", "instances", "z9.mega", "hourly") is None
    assert catalogue.price("no", "such", "section") is None
    assert not load_catalogue("ap-south-2").available


def test_a_broken_catalogue_names_file_and_key(tmp_path):
    path = tmp_path / "us-east-1.json"
    document = json.loads(prices.catalogue_path("us-east-1").read_text())
    document["ec2"]["instances"]["m5.large"]["hourly"] = "cheap"
    path.write_text(json.dumps(document))
    with pytest.raises(UserError) as raised:
        read_catalogue_file(path)
    assert raised.value.key == "ec2.instances.m5.large.hourly"


def product(usage_type: str, price: str, unit: str = "Hrs", attributes: dict | None = None, tiers: list[tuple[str, str]] | None = None) -> str:
    dimensions = {f"D{i}": {"unit": unit, "beginRange": begin, "endRange": "Inf", "pricePerUnit": {"USD": value}}
                  for i, (begin, value) in enumerate(tiers or [("0", price)])}
    return json.dumps({
        "product": {"sku": usage_type, "attributes": {"usagetype": usage_type, **(attributes or {})}},
        "terms": {"OnDemand": {"T": {"priceDimensions": dimensions}}},
    })


def filters(**terms: str) -> list[dict]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


TEMPLATE = {
    "region": "us-west-2", "currency": "USD", "asOf": "2020-01-01", "source": "old", "hoursPerMonth": 730,
    "ec2": {"spotToOnDemandRatio": "0.35", "instances": {"m5.large": {"hourly": "1", "vcpu": 1, "memoryGiB": 1, "gpus": 0}}},
    "sagemaker": {"hostingInstances": {"ml.m5.large": "1"}},
    "eks": {"clusterHour": "1", "extendedSupportClusterHour": "1"},
    "s3": {"STANDARD": {"tier1Per1k": "1"}},
}
SPECS = [
    PriceSpec(("eks", "clusterHour"), "AmazonEKS", "AmazonEKS-Hours:perCluster"),
    PriceSpec(("eks", "extendedSupportClusterHour"), "AmazonEKS", "AmazonEKS-Hours:extendedSupport"),
    PriceSpec(("s3", "STANDARD", "tier1Per1k"), "AmazonS3", "Requests-Tier1", (("productFamily", "API Request"),), scale=Decimal(1000)),
]


def stubbed_refresh():
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    stubber = Stubber(client)
    stubber.add_response("get_products", {"PriceList": [product("USW2-BoxUsage:m5.large", "0.096", attributes={"vcpu": "2", "memory": "8 GiB"})]},
                         {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "Filters": filters(
                             regionCode="us-west-2", instanceType="m5.large", operatingSystem="Linux", tenancy="Shared",
                             preInstalledSw="NA", capacitystatus="Used", licenseModel="No License required")})
    stubber.add_response("get_products", {"PriceList": [product("USW2-Host:ml.m5.large", "0.115"), product("USW2-Notebk:ml.m5.large", "0.9")]},
                         {"ServiceCode": "AmazonSageMaker", "FormatVersion": "aws_v1", "Filters": filters(regionCode="us-west-2", instanceName="ml.m5.large")})
    # The EKS answer comes in two pages: the paginator must follow NextToken.
    stubber.add_response("get_products", {"PriceList": [product("USW2-AmazonEKS-Hours:perCluster", "0.10")], "NextToken": "page-2"},
                         {"ServiceCode": "AmazonEKS", "FormatVersion": "aws_v1", "Filters": filters(regionCode="us-west-2")})
    stubber.add_response("get_products", {"PriceList": [product("USW2-Fargate-vCPU-Hours:perCPU", "0.04")]},
                         {"ServiceCode": "AmazonEKS", "FormatVersion": "aws_v1", "Filters": filters(regionCode="us-west-2"), "NextToken": "page-2"})
    # S3 requests: a free first tier is an allowance, not the list price; per request -> per 1k.
    stubber.add_response("get_products", {"PriceList": [product("USW2-Requests-Tier1", "", "Requests", tiers=[("0", "0"), ("2000", "0.000005")])]},
                         {"ServiceCode": "AmazonS3", "FormatVersion": "aws_v1", "Filters": filters(regionCode="us-west-2", productFamily="API Request")})
    return client, stubber


def test_refresh_reprices_every_entry_and_lists_what_it_could_not():
    client, stubber = stubbed_refresh()
    with stubber:
        document = refresh_catalogue("us-west-2", client, TEMPLATE, SPECS, today=date(2026, 11, 1))
        stubber.assert_no_pending_responses()
    assert document["ec2"]["instances"]["m5.large"] == {"hourly": "0.096", "vcpu": 2, "memoryGiB": 8.0, "gpus": 0}
    assert document["sagemaker"]["hostingInstances"]["ml.m5.large"] == "0.115"
    assert document["eks"]["clusterHour"] == "0.1"
    assert document["s3"]["STANDARD"]["tier1Per1k"] == "0.005"
    assert document["notRefreshed"] == ["eks.extendedSupportClusterHour"]
    assert document["eks"]["extendedSupportClusterHour"] == "1"  # kept, and listed above
    assert document["asOf"] == "2026-11-01" and "Price List API" in document["source"]
    assert TEMPLATE["eks"]["clusterHour"] == "1"  # the template is not modified


def test_refresh_command_writes_a_valid_catalogue(tmp_path, monkeypatch, capsys):
    shipped = json.loads(prices.catalogue_path("us-east-1").read_text())
    template = {**TEMPLATE, "region": "us-west-2", "ec2": TEMPLATE["ec2"], "sagemaker": TEMPLATE["sagemaker"]}
    (tmp_path / "us-west-2.json").write_text(json.dumps({**shipped, **template}))
    client, stubber = stubbed_refresh()
    monkeypatch.setattr(prices_refresh, "pricing_client", lambda: client)
    monkeypatch.setattr(prices_refresh, "PRICE_SPECS", SPECS)
    with stubber:
        assert main(["prices", "refresh", "--region", "us-west-2", "--dir", str(tmp_path)]) == 0
    written = read_catalogue_file(tmp_path / "us-west-2.json")
    assert written.price("eks", "clusterHour") == Decimal("0.1")
    assert written.instance("m5.large").hourly == Decimal("0.096")
    assert "not refreshed (kept the previous price): eks.extendedSupportClusterHour" in capsys.readouterr().err


def test_pricing_client_has_mlps_timeouts_and_bounded_retries():
    client = prices_refresh.pricing_client()
    assert client.meta.region_name == "us-east-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (5.0, 30.0)


def _stack_config(stack: str) -> dict:
    import yaml

    from mlp import PROJECT_ROOT

    return yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


@pytest.mark.parametrize("region", REGIONS)
def test_every_instance_type_sagemaker_hosts_in_a_region_has_a_hosting_price_there(region):
    """Config accepts any type of the hosting table (components/data/sagemaker_hosting_instances.json):
    each must be priced, or an endpoint on it would be `priceNotFound`."""
    offered = sagemaker_hosting_instance_types(region)
    assert offered, f"the hosting table lists no instance types for {region}"
    hosting = load_catalogue(region).section("sagemaker", "hostingInstances")
    assert [name for name in offered if name not in hosting] == []
    # Hosting carries SageMaker's surcharge over the same EC2 instance.
    ec2 = load_catalogue(region).instances()
    for name in offered:
        instance = ec2.get(name.removeprefix("ml."))
        if instance is not None:
            assert Decimal(hosting[name]) > instance.hourly, name


def test_every_region_a_stack_deploys_to_ships_a_catalogue(stack):
    assert _stack_config(stack)["aws:region"] in REGIONS
    assert load_catalogue(_stack_config(stack)["aws:region"]).available


def test_every_instance_type_and_family_the_stacks_allow_has_a_price(stack):
    config = _stack_config(stack)
    catalogue = load_catalogue(config["aws:region"])
    instances = catalogue.instances()
    cluster = config.get("mlplatform:cluster") or {}
    for instance_type in (cluster.get("systemNodeGroup") or {}).get("instanceTypes", []):
        assert instance_type in instances, f"{stack}: systemNodeGroup {instance_type}"
    for pool in cluster.get("nodePools") or []:
        for instance_type in pool.get("instanceTypes") or []:
            assert instance_type in instances, f"{stack}: pool {pool['name']} {instance_type}"
        for family in pool.get("instanceFamilies") or []:
            assert any(i.family == family for i in instances.values()), f"{stack}: pool {pool['name']} family {family}"
        for category in pool.get("instanceCategories") or []:
            assert any(i.category == category for i in instances.values()), f"{stack}: pool {pool['name']} category {category}"
    hosting = catalogue.section("sagemaker", "hostingInstances")
    for endpoint in config.get("mlplatform:endpoints") or []:
        for key, value in _walk(endpoint):
            if key == "instanceType" and str(value).startswith("ml."):
                assert value in hosting, f"{stack}: endpoint {endpoint.get('name')} {value}"


def _walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)
