"""EKS and Helm figures computed by hand from the catalogue: the control plane, JupyterHub."""

from __future__ import annotations

import pytest

from mlp.errors import UserError
from tests.mlp.cost.documents import cost_of, export, priced, resource, usd


def test_eks_cluster_is_73_dollars_a_month_in_us_east_1(tmp_path):
    document = export(resource("aws:eks/cluster:Cluster", "cluster"))
    assert cost_of(document, "cluster").monthly_cost == usd("73.00")  # 0.10 x 730
    extended = cost_of(document, "cluster", {"resource_usage": {"cluster": {"extended_support": True}}}, tmp_path)
    assert extended.monthly_cost == usd("438.00")  # 0.60 x 730


def test_jupyterhub_users_volumes_and_profile_hours(tmp_path):
    release = resource("kubernetes:helm.sh/v3:Release", "hub", {"chart": "jupyterhub", "version": "4.0.0"})
    other = resource("kubernetes:helm.sh/v3:Release", "karpenter", {"chart": "karpenter"})
    usage = {"resource_type_default_usage": {"kubernetes:helm.sh/v3:Release": {
        "notebook_users": 10, "storage_gb_per_user": 50,
        "profile_hours": {"cpu": {"monthly_hrs": 100, "instance_type": "m5.xlarge"}}}}}
    result = priced(export(release, other), usage, tmp_path)
    assert [c.resource.name for c in result.costs] == ["hub"]
    assert result.costs[0].monthly_cost == 10 * 50 * usd("0.08") + 100 * usd("0.192")


def test_profile_hours_must_name_a_profile_of_the_release(tmp_path, capsys):
    release = resource("kubernetes:helm.sh/v3:Release", "hub", {"chart": "jupyterhub", "values": {"singleuser": {"profileList": [
        {"slug": "cpu-small", "display_name": "CPU"}, {"slug": "gpu-single", "display_name": "GPU"}]}}})
    known = {"resource_usage": {"hub": {"profile_hours": {"gpu-single": {"monthly_hrs": 10, "instance_type": "g5.xlarge"}}}}}
    assert priced(export(release), known, tmp_path).costs[0].monthly_cost == 10 * usd("1.006")
    typo = {"resource_usage": {"hub": {"profile_hours": {"gpu": {"monthly_hrs": 10, "instance_type": "g5.xlarge"}}}}}
    with pytest.raises(UserError) as raised:
        priced(export(release), typo, tmp_path)
    assert raised.value.key == "resource_usage.hub.profile_hours.gpu"
    assert raised.value.message == "no JupyterHub profile 'gpu' in this release (profiles: cpu-small, gpu-single)"

