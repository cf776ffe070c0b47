"""The EKS control plane by the support calendar: $0.10 per cluster-hour in standard support,
$0.60 in extended support (730 h: $73.00 and $438.00), and what EKS does at each end date."""

from __future__ import annotations

from datetime import date

from tests.mlp.cost.documents import cost_of, export, priced, resource, usd

STANDARD_MONTH = usd("73.00")  # 0.10 x 730
EXTENDED_MONTH = usd("438.00")  # 0.60 x 730


def cluster(version: str | None = None, support_type: str | None = None) -> dict:
    inputs = {"version": version} if version else {}
    if support_type:
        inputs["upgradePolicy"] = {"supportType": support_type}
    return resource("aws:eks/cluster:Cluster", "cluster", inputs)


def month(version=None, support_type=None, on=date(2026, 11, 29), usage=None, tmp_path=None):
    result = priced(export(cluster(version, support_type)), usage, tmp_path, on=on)
    return result.costs[0]


def test_a_cluster_without_a_version_is_in_standard_support():
    cost = cost_of(export(cluster()), "cluster")
    assert cost.monthly_cost == STANDARD_MONTH
    assert cost.components[0].name == "EKS cluster"


def test_prod_1_33_with_extended_support_costs_438_a_month_on_2026_11_29():
    cost = month("1.33", "EXTENDED")
    assert cost.monthly_cost == EXTENDED_MONTH
    assert cost.components[0].name == "EKS cluster (extended support), Kubernetes 1.33"
    assert cost.components[0].refs == ("eks.extendedSupportClusterHour",)
    assert any("in extended support since 2026-07-29 (until 2027-07-29)" in note for note in cost.notes)


def test_extended_billing_starts_on_the_end_of_standard_support_date():
    assert month("1.33", "EXTENDED", on=date(2026, 7, 28)).monthly_cost == STANDARD_MONTH
    assert month("1.33", "EXTENDED", on=date(2026, 7, 29)).monthly_cost == EXTENDED_MONTH


def test_support_type_defaults_to_extended_as_eks_does():
    assert month("1.33").monthly_cost == EXTENDED_MONTH


def test_standard_support_type_means_eks_upgrades_instead_of_billing_extended_support():
    cost = month("1.33", "STANDARD")
    assert cost.monthly_cost == STANDARD_MONTH
    assert any("EKS upgrades the control plane to the next version" in note for note in cost.notes)


def test_past_extended_support_eks_upgrades_to_the_oldest_version_still_in_extended_support():
    # 1.31's extended support ended 2026-11-26; on 2026-11-29, 1.32 (standard support ended
    # 2026-03-23) is the oldest version in extended support: still $0.60 an hour.
    cost = month("1.31", "EXTENDED")
    assert cost.monthly_cost == EXTENDED_MONTH
    assert any("upgrades the control plane to 1.32, the oldest version in extended support" in note for note in cost.notes)


def test_versions_the_calendar_lacks():
    newer = month("1.40", "EXTENDED")
    assert newer.monthly_cost == STANDARD_MONTH and "newer than the support calendar" in newer.notes[0]
    older = month("1.25", "EXTENDED")
    assert older.monthly_cost == EXTENDED_MONTH and "not in the support calendar" in older.notes[0]


def test_the_usage_key_only_decides_where_the_calendar_cannot(tmp_path):
    ignored = month("1.33", "EXTENDED", usage={"resource_usage": {"cluster": {"extended_support": False}}}, tmp_path=tmp_path)
    assert ignored.monthly_cost == EXTENDED_MONTH
    assert ignored.notes[0] == ("usage extended_support: false ignored: Kubernetes 1.33 in extended support since 2026-07-29 (until 2027-07-29) "
                                "on 2026-11-29")
    decided = month("1.25", "EXTENDED", usage={"resource_usage": {"cluster": {"extended_support": False}}}, tmp_path=tmp_path)
    assert decided.monthly_cost == STANDARD_MONTH


def test_the_real_prod_stack_pays_extended_support(plan_of):
    from mlp.cost import estimate

    result = estimate(plan_of("prod").resources, on=date(2026, 11, 29))
    control_plane = next(c for c in result.costs if c.resource.type == "aws:eks/cluster:Cluster")
    assert control_plane.monthly_cost == EXTENDED_MONTH
    staging = estimate(plan_of("staging").resources, on=date(2026, 11, 29))
    assert next(c for c in staging.costs if c.resource.type == "aws:eks/cluster:Cluster").monthly_cost == STANDARD_MONTH
