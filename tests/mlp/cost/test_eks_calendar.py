"""The EKS support calendar as data, and `mlp plan`'s warning when a stack's Kubernetes version
leaves standard support within 90 days (or already has)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from rich.console import Console

from mlp.cost import eks_calendar
from mlp.cost.eks_calendar import CALENDAR_PATH, load_calendar, support_status, warnings
from mlp.state import resources_from_document
from tests.mlp.cost.documents import export, resource


def test_the_calendar_says_where_its_dates_come_from_and_keeps_the_eks_rhythm():
    document = json.loads(CALENDAR_PATH.read_text())
    assert "kubernetes-versions" in document["source"] and document["asOf"] == "2026-11-29"
    calendar = load_calendar()
    assert calendar.versions["1.33"].standard_end == date(2026, 7, 29) and calendar.versions["1.33"].extended_end == date(2027, 7, 29)
    assert calendar.versions["1.34"].standard_end == date(2026, 12, 2)
    for name, entry in document["versions"].items():
        released = date.fromisoformat(entry["eksRelease"])
        standard, extended = calendar.versions[name].standard_end, calendar.versions[name].extended_end
        # 14 months of standard support, then 12 of extended support (a few days either way).
        assert 420 <= (standard - released).days <= 450, name
        assert 360 <= (extended - standard).days <= 370, name


@pytest.mark.parametrize("version,support,on,extended,known", [
    ("1.33", "EXTENDED", date(2026, 11, 29), True, True),
    ("1.33", "STANDARD", date(2026, 11, 29), False, True),
    ("1.34", "EXTENDED", date(2026, 12, 1), False, True),
    ("1.34", "EXTENDED", date(2026, 12, 2), True, True),
    (None, "EXTENDED", date(2026, 11, 29), False, False),
])
def test_support_status(version, support, on, extended, known):
    status = support_status(version, support, on)
    assert (status.extended, status.known) == (extended, known)


def cluster_document(version: str, support: str) -> list:
    return resources_from_document(export(resource("aws:eks/cluster:Cluster", "eks", {"version": version, "upgradePolicy": {"supportType": support}}),
                                          region="us-west-2"), "plan")


def test_warns_within_90_days_of_the_end_of_standard_support():
    resources = cluster_document("1.34", "STANDARD")
    assert warnings(resources, date(2026, 9, 2)) == []  # 91 days ahead
    (line,) = warnings(resources, date(2026, 9, 3))
    assert line == ("EKS cluster eks: Kubernetes 1.34 leaves standard support on 2026-12-02 (in 90 days); supportType STANDARD: "
                    "EKS then upgrades the control plane to the next version. Upgrade before then, or budget for it.")
    (extended,) = warnings(cluster_document("1.34", "EXTENDED"), date(2026, 11, 29))
    assert "(in 3 days); extended support then bills the control plane at $0.60 instead of $0.10 per cluster-hour (+$365.00 a month)" in extended


def test_warns_while_in_extended_support():
    (line,) = warnings(cluster_document("1.33", "EXTENDED"), date(2026, 11, 29))
    assert line == ("EKS cluster eks: Kubernetes 1.33 in extended support since 2026-07-29 (until 2027-07-29); "
                    "the control plane costs $0.60 instead of $0.10 per cluster-hour (+$365.00 a month).")


class _Today(date):
    @classmethod
    def today(cls):
        return date(2026, 11, 29)


def test_mlp_plan_prints_the_warning_for_prod(plan_of, monkeypatch):
    from mlp.plan import render

    monkeypatch.setattr(eks_calendar, "date", _Today)
    console = Console(record=True, width=400)
    render(plan_of("prod"), console)
    text = console.export_text()
    assert "warning EKS cluster mlplatform-cluster-eks: Kubernetes 1.33 in extended support since 2026-07-29 (until 2027-07-29)" in text
    console = Console(record=True, width=400)
    render(plan_of("dev"), console)
    assert "Kubernetes 1.34 leaves standard support on 2026-12-02 (in 3 days)" in console.export_text()
