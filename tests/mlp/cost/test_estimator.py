"""The estimate as a whole: unpriced types flagged, regions and catalogues, usage precedence,
previews, and the real stacks fully priced."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlp.cost import estimate, group_value, usage_schemas
from mlp.prices import load_catalogue
from mlp.state import resources_from_document
from mlp.usage import load_usage
from tests.mlp.cost.documents import export, priced, resource, usd

STACKS_DIR = Path(__file__).resolve().parents[3] / "stacks"


def test_unpriced_types_and_missing_prices_are_flagged_never_zero():
    document = export(
        resource("aws:redshift/cluster:Cluster", "warehouse"),
        resource("aws:eks/nodeGroup:NodeGroup", "exotic", {"instanceTypes": ["z9.mega"], "scalingConfig": {"desiredSize": 1}}),
        resource("aws:iam/role:Role", "role"),
        resource("aws:ec2/subnet:Subnet", "subnet"),
    )
    result = priced(document)
    costs = {c.resource.name: c for c in result.costs}
    assert set(costs) == {"warehouse", "exotic"}
    assert costs["warehouse"].price_not_found and costs["warehouse"].monthly_cost is None
    assert costs["exotic"].price_not_found
    assert result.free_resources == 2


def test_region_without_a_catalogue_reports_every_price_as_not_found():
    result = priced(export(resource("aws:eks/cluster:Cluster", "cluster"), region="eu-north-1"))
    assert not result.catalogue.available
    assert result.costs[0].price_not_found
    assert result.total == 0


def test_resource_usage_by_urn_or_name_beats_the_type_default(tmp_path):
    document = export(resource("aws:ec2/natGateway:NatGateway", "nat-a"), resource("aws:ec2/natGateway:NatGateway", "nat-b"),
                      resource("aws:ec2/natGateway:NatGateway", "nat-c"))
    urn_c = "urn:pulumi:dev::mlplatform::aws:ec2/natGateway:NatGateway::nat-c"
    usage = {"resource_type_default_usage": {"aws:ec2/natGateway:NatGateway": {"monthly_data_processed_gb": 100}},
             "resource_usage": {"nat-b": {"monthly_data_processed_gb": 1000}, urn_c: {"monthly_data_processed_gb": 0}}}
    costs = {c.resource.name: c.monthly_cost for c in priced(document, usage, tmp_path).costs}
    assert costs == {"nat-a": usd("37.35"), "nat-b": usd("77.85"), "nat-c": usd("32.85")}


def test_a_name_shared_by_two_types_gives_each_the_keys_it_knows(tmp_path):
    document = export(resource("aws:ec2/natGateway:NatGateway", "nat"), resource("aws:ec2/eip:Eip", "nat"))
    result = priced(document, {"resource_usage": {"nat": {"monthly_data_processed_gb": 100}}}, tmp_path)
    assert result.total == usd("37.35") + usd("3.65")


def test_a_replaced_resource_in_a_preview_costs_once_and_a_deleted_one_nothing():
    cluster = resource("aws:eks/cluster:Cluster", "cluster")
    gateway = resource("aws:ec2/natGateway:NatGateway", "nat")
    provider = export()["deployment"]["resources"][0]
    # What `pulumi preview --json` writes for a replacement: three steps of one URN.
    preview = {"steps": [
        {"op": "same", "urn": provider["urn"], "newState": provider},
        {"op": "create-replacement", "urn": cluster["urn"], "newState": cluster},
        {"op": "replace", "urn": cluster["urn"], "oldState": cluster, "newState": cluster},
        {"op": "delete-replaced", "urn": cluster["urn"], "oldState": cluster},
        {"op": "delete", "urn": gateway["urn"], "oldState": gateway},
    ]}
    result = estimate(resources_from_document(preview, "preview.json"))
    assert [c.resource.name for c in result.costs] == ["cluster"]
    assert result.total == usd("73.00")


def test_real_stack_plans_are_fully_priced(plan_of, stack):
    usage = load_usage(STACKS_DIR / f"usage.{stack}.yaml", usage_schemas())
    result = estimate(plan_of(stack).resources, usage)
    assert result.catalogue.available
    assert [c.resource.urn for c in result.costs if c.price_not_found] == []
    nat = [c for c in result.costs if c.resource.type == "aws:ec2/natGateway:NatGateway"]
    nat_instances = [c for c in result.costs if c.resource.type == "aws:ec2/instance:Instance"]
    if plan_of(stack).config.network.nat_gateways == "instance":  # dev: a NAT instance, its hours and root volume
        assert not nat and len(nat_instances) == 1 and nat_instances[0].monthly_cost > 0
    else:
        assert nat and all(c.monthly_cost > usd("32.85") for c in nat)  # hours plus the usage file's traffic
    assert result.total > 0
    # Every dollar lands on a team, an environment and a component: the JupyterHub release
    # (no labels of its own) on the platform team, as its chart values label what it runs.
    groups = result.groups()
    for key in ("Team", "Environment", "Component"):
        assert "(untagged)" not in groups[key], (key, groups[key].get("(untagged)"))
    hub = next(c for c in result.costs if c.resource.type == "kubernetes:helm.sh/v3:Release")
    platform_team = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]["mlplatform:platformTeam"]
    assert (group_value(hub.resource, "Team", result.stack_tags), group_value(hub.resource, "Component")) == (platform_team, "notebooks")
    assert groups["Environment"] == {stack: groups["Environment"][stack]}


def test_catalogue_region_is_the_documents(tmp_path):
    result = priced(export(resource("aws:eks/cluster:Cluster", "c"), region="us-west-2"))
    assert result.region == "us-west-2" and result.catalogue.region == "us-west-2"
    assert load_catalogue("us-west-2").price("eks", "clusterHour") == usd("0.10")



def test_totals_split_into_fixed_and_usage_based_and_each_usage_line_names_its_key(tmp_path):
    document = export(resource("aws:ec2/natGateway:NatGateway", "nat"), resource("aws:ecr/repository:Repository", "images"),
                      resource("aws:kms/key:Key", "key"))
    usage = {"resource_usage": {"nat": {"monthly_data_processed_gb": 100}, "images": {"storage_gb": 50}, "key": {"monthly_requests": 20_000}}}
    result = priced(document, usage, tmp_path)
    assert result.fixed_total == usd("32.85") + usd("1.00")  # NAT hours, the key's month
    assert result.usage_total == usd("4.50") + usd("5.00") + usd("0.06")
    assert result.total == result.fixed_total + result.usage_total
    keys = {(c.resource.name, line.name): line.usage_key for c in result.costs for line in c.components}
    assert keys == {("nat", "NAT gateway"): None, ("nat", "Data processed"): "monthly_data_processed_gb", ("images", "Storage"): "storage_gb",
                    ("key", "Customer managed key"): None, ("key", "Requests"): "monthly_requests"}


def test_not_priced_resources_are_counted_per_type_and_left_out_of_the_totals():
    document = export(resource("aws:redshift/cluster:Cluster", "a"), resource("aws:redshift/cluster:Cluster", "b"),
                      resource("aws:opensearch/domain:Domain", "search"), resource("aws:eks/cluster:Cluster", "eks"))
    result = priced(document)
    assert result.not_priced_by_type() == {"aws:redshift/cluster:Cluster": 2, "aws:opensearch/domain:Domain": 1}
    assert result.total == usd("73.00")


def test_floor_is_minimum_scale_not_fixed_cost(tmp_path):
    from tests.mlp.cost.documents import gpu_pool, node_class

    document = export(node_class(), gpu_pool({"nvidia.com/gpu": 1}), resource("aws:ecr/repository:Repository", "images"))
    result = priced(document, {"resource_usage": {"gpu-pool": {"monthly_node_hrs": 10, "capacity_type": "on-demand"}, "images": {"storage_gb": 10}}}, tmp_path)
    # The pool's node-hours are usage and scale to zero at the floor; the repository's storage is
    # usage that stays at the floor (scale does not change it); nothing here is fixed.
    assert result.fixed_total == 0
    assert result.floor_total == usd("1.00")
    assert result.usage_total == result.total == 10 * usd("1.006") + 100 * usd("0.08") * 10 / 730 + usd("1.00")
