"""The cost-tag helpers: every path that AWS default tags do not reach gets all six keys."""

import re

import pytest

from components.config import parse_config
from components.tagging import REQUIRED_TAG_KEYS, CostTagging, is_owned_label, is_taggable
from tests.conftest import stack_yaml


@pytest.fixture
def tagging() -> CostTagging:
    return CostTagging.from_config(parse_config(stack_yaml("prod")["config"], "prod"))


def test_default_and_resource_tags_make_the_six_keys(tagging):
    merged = {**tagging.default_tags(), **tagging.resource_tags("network")}
    assert set(merged) == set(REQUIRED_TAG_KEYS)
    assert merged == {
        "CostCenter": "CC-4200-ML-PROD", "Environment": "prod", "Project": "mlplatform",
        "ManagedBy": "pulumi", "Team": "ml-platform", "Component": "network",
    }


def test_team_resources_bill_to_the_team_cost_center(tagging):
    assert tagging.resource_tags("datalake", "vision") == {"Team": "vision", "Component": "datalake", "CostCenter": "CC-4220-VISION"}
    assert tagging.all_tags("datalake", "vision")["CostCenter"] == "CC-4220-VISION"


def test_unknown_component_is_refused(tagging):
    with pytest.raises(ValueError, match="unknown cost component"):
        tagging.resource_tags("gpu-stuff")


def test_launch_template_tags_cover_instances_volumes_and_interfaces(tagging):
    specs = tagging.launch_template_tag_specifications("compute", name="system")
    assert sorted(spec.resource_type for spec in specs) == ["instance", "network-interface", "volume"]
    for spec in specs:
        assert set(REQUIRED_TAG_KEYS) <= set(spec.tags)
        assert spec.tags["Component"] == "compute" and spec.tags["Name"] == "system"


def test_autoscaling_group_tags_are_a_propagated_list(tagging):
    tags = tagging.autoscaling_group_tags("compute")
    assert {tag["key"] for tag in tags} == set(REQUIRED_TAG_KEYS)
    assert all(tag["propagate_at_launch"] is True for tag in tags)


def test_storage_class_parameters_tag_every_volume(tagging):
    parameters = tagging.ebs_csi_storage_class_parameters("notebooks", "forecasting")
    pairs = dict(value.split("=", 1) for value in parameters.values())
    assert set(pairs) == set(REQUIRED_TAG_KEYS)
    assert pairs["Team"] == "forecasting" and pairs["CostCenter"] == "CC-4210-FORECAST"
    assert all(re.fullmatch(r"tagSpecification_\d+", key) for key in parameters)


def test_kubernetes_labels_are_valid_label_values(tagging):
    labels = tagging.k8s_labels("notebooks", "vision", app="jupyterhub")
    assert labels["mlplatform.io/cost-center"] == "CC-4220-VISION"
    assert labels["mlplatform.io/environment"] == "prod" and labels["mlplatform.io/team"] == "vision"
    assert labels["mlplatform.io/component"] == "notebooks"
    assert labels["app.kubernetes.io/name"] == "jupyterhub"
    assert labels["app.kubernetes.io/part-of"] == "mlplatform" and labels["app.kubernetes.io/managed-by"] == "pulumi"
    for value in labels.values():
        assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", value), value


def test_label_values_drop_characters_kubernetes_refuses():
    tagging = CostTagging("CC 41/ML:prod", "dev", "mlplatform", "ml-platform")
    assert tagging.k8s_labels("network")["mlplatform.io/cost-center"] == "CC-41-ML-prod"
    # Letters outside ASCII are refused by Kubernetes although str.isalnum() accepts them.
    accented = CostTagging("Équipe Données", "dev", "mlplatform", "ml-platform")
    assert accented.k8s_labels("network")["mlplatform.io/cost-center"] == "quipe-Donn-es"


def test_chart_values_get_only_the_cost_labels(tagging):
    # A chart owns app.kubernetes.io/name and managed-by on what it renders (JupyterHub 4.x selects
    # its pods on the name): chart values get the cost facts and nothing a chart could select on.
    labels = tagging.cost_labels("notebooks", "vision")
    assert set(labels) == {"mlplatform.io/cost-center", "mlplatform.io/environment", "mlplatform.io/team",
                           "mlplatform.io/component", "app.kubernetes.io/part-of"}
    assert not any(is_owned_label(key) for key in tagging.k8s_labels("notebooks", "vision", app="x"))


@pytest.mark.parametrize("key,owned", [
    ("component", True), ("app", True), ("release", True), ("heritage", True), ("chart", True),
    ("hub.jupyter.org/network-access-hub", True), ("karpenter.sh/nodepool", True), ("helm.sh/chart", True),
    ("app.kubernetes.io/instance", True), ("app.kubernetes.io/component", True), ("node.kubernetes.io/instance-type", True),
    ("topology.kubernetes.io/zone", True), ("mlplatform.io/team", False), ("mlplatform.io/pool", False),
    ("app.kubernetes.io/part-of", False), ("app.kubernetes.io/managed-by", False), ("app.kubernetes.io/name", False),
    ("pod-security.kubernetes.io/enforce", False),
])
def test_label_keys_charts_and_controllers_own(key, owned):
    assert is_owned_label(key) is owned


@pytest.mark.parametrize("token,taggable", [
    ("aws:s3/bucket:Bucket", True),
    ("aws:ec2/vpc:Vpc", True),
    ("aws:eks/cluster:Cluster", True),
    ("aws:s3/bucketPolicy:BucketPolicy", False),
    ("aws:ec2/routeTableAssociation:RouteTableAssociation", False),
    ("aws:iam/rolePolicy:RolePolicy", False),
    ("kubernetes:core/v1:Namespace", False),
    ("aws:nosuchservice/thing:Thing", False),
])
def test_taggability_is_read_from_the_installed_sdk(token, taggable):
    assert is_taggable(token) is taggable
