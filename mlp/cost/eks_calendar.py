"""The Amazon EKS support calendar (mlp/data/eks-support-calendar.json) and what it means for a
cluster on a given day: standard support ($0.10 per cluster-hour), extended support ($0.60), or
an upgrade EKS forces. `mlp cost` prices the control plane by it; `mlp plan` warns when a
stack's version leaves standard support within 90 days, or already has."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from mlp.cost.context import DEFAULT_REGION, region_of

from mlp.prices import HOURS_PER_MONTH, load_catalogue
from mlp.state import StateResource

CALENDAR_PATH = Path(__file__).resolve().parent.parent / "data" / "eks-support-calendar.json"
CLUSTER_TYPE = "aws:eks/cluster:Cluster"
WARN_DAYS = 90
# CreateCluster's upgradePolicy.supportType when none is given (EKS User Guide: "By default, for
# all new and existing clusters, the upgrade policy is set to EXTENDED").
DEFAULT_SUPPORT_TYPE = "EXTENDED"


@dataclass(frozen=True)
class Version:
    name: str
    standard_end: date
    extended_end: date


@dataclass(frozen=True)
class Calendar:
    source: str
    as_of: str
    versions: dict[str, Version]

    def newest(self) -> Version | None:
        return max(self.versions.values(), key=lambda v: _key(v.name), default=None)

    def oldest_in_extended(self, on: date) -> Version | None:
        candidates = [v for v in self.versions.values() if v.standard_end <= on < v.extended_end]
        return min(candidates, key=lambda v: _key(v.name), default=None)


def _key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


@functools.lru_cache(maxsize=4)
def load_calendar(path: Path = CALENDAR_PATH) -> Calendar:
    document = json.loads(path.read_text())
    versions = {name: Version(name, date.fromisoformat(v["endOfStandardSupport"]), date.fromisoformat(v["endOfExtendedSupport"]))
                for name, v in document["versions"].items()}
    return Calendar(document["source"], document["asOf"], versions)


@dataclass(frozen=True)
class SupportStatus:
    """What a cluster's control plane is billed as on one day, and why."""

    version: str | None
    support_type: str
    extended: bool  # billed at the extended-support rate
    known: bool  # the calendar decided (False: no version, or one the calendar lacks)
    note: str
    standard_end: date | None = None
    extended_end: date | None = None

    def days_of_standard_left(self, on: date) -> int | None:
        return None if self.standard_end is None else (self.standard_end - on).days


def cluster_version(resource: StateResource) -> tuple[str | None, str]:
    version = resource.inputs.get("version") or resource.outputs.get("version")
    policy = resource.inputs.get("upgradePolicy") or resource.outputs.get("upgradePolicy") or {}
    if isinstance(policy, list):  # some engines record a one-item list
        policy = policy[0] if policy else {}
    support = (policy.get("supportType") if isinstance(policy, dict) else None) or DEFAULT_SUPPORT_TYPE
    return (str(version) if version else None), str(support).upper()


def support_status(version: str | None, support_type: str, on: date, calendar: Calendar | None = None) -> SupportStatus:
    calendar = calendar or load_calendar()
    extended_type = support_type == "EXTENDED"
    if version is None:
        return SupportStatus(None, support_type, False, False, "no Kubernetes version given: EKS creates its default version, in standard support")
    entry = calendar.versions.get(version)
    if entry is None:
        newest = calendar.newest()
        if newest is not None and _key(version) > _key(newest.name):
            return SupportStatus(version, support_type, False, False, f"Kubernetes {version} is newer than the support calendar (as of {calendar.as_of}): standard support assumed")
        return SupportStatus(version, support_type, extended_type, False,
                             f"Kubernetes {version} is not in the support calendar (as of {calendar.as_of}): "
                             + ("extended support assumed" if extended_type else "standard support assumed (supportType STANDARD)"))
    dates = {"standard_end": entry.standard_end, "extended_end": entry.extended_end}
    if on < entry.standard_end:
        return SupportStatus(version, support_type, False, True, f"Kubernetes {version} in standard support until {entry.standard_end}", **dates)
    if not extended_type:
        return SupportStatus(version, support_type, False, True, f"Kubernetes {version} left standard support on {entry.standard_end}; "
                             "supportType STANDARD: EKS upgrades the control plane to the next version", **dates)
    if on < entry.extended_end:
        return SupportStatus(version, support_type, True, True, f"Kubernetes {version} in extended support since {entry.standard_end} (until {entry.extended_end})", **dates)
    upgraded = calendar.oldest_in_extended(on)
    target = f"{upgraded.name}, the oldest version in extended support" if upgraded else "a version in standard support"
    return SupportStatus(version, support_type, upgraded is not None, True,
                         f"Kubernetes {version} left extended support on {entry.extended_end}: EKS upgrades the control plane to {target}", **dates)


def _rates(resources: list[StateResource]) -> str:
    """What extended support costs more, from the document's region's catalogue ("$0.60 instead
    of $0.10 per cluster-hour (+$365.00 a month)"); "" when it has no such prices."""
    catalogue = load_catalogue(region_of(resources) or DEFAULT_REGION)
    standard, extended = catalogue.price("eks", "clusterHour"), catalogue.price("eks", "extendedSupportClusterHour")
    if standard is None or extended is None:
        return ""
    more = ((extended - standard) * HOURS_PER_MONTH).quantize(Decimal("0.01"))
    return f"${extended:f} instead of ${standard:f} per cluster-hour (+${more:,} a month)"


def warnings(resources: list[StateResource], on: date | None = None, calendar: Calendar | None = None) -> list[str]:
    """One line per EKS cluster whose version is in extended support, or leaves standard
    support within WARN_DAYS days of `on`."""
    on = on or date.today()
    lines = []
    rates = None
    for resource in resources:
        if resource.type != CLUSTER_TYPE:
            continue
        version, support_type = cluster_version(resource)
        status = support_status(version, support_type, on, calendar)
        days = status.days_of_standard_left(on)
        if days is None or not status.known or days > WARN_DAYS:
            continue
        rates = _rates(resources) if rates is None else rates
        if days > 0:
            then = (f"extended support then bills the control plane at {rates or 'the extended-support rate'}" if support_type == "EXTENDED"
                    else "supportType STANDARD: EKS then upgrades the control plane to the next version")
            lines.append(f"EKS cluster {resource.name}: Kubernetes {version} leaves standard support on {status.standard_end} "
                         f"(in {days} day{'s' if days != 1 else ''}); {then}. Upgrade before then, or budget for it.")
        else:
            cost = f"; the control plane costs {rates}" if status.extended and rates else ""
            lines.append(f"EKS cluster {resource.name}: {status.note}{cost}.")
    return lines


def print_warnings(resources: list[StateResource], console: Console, on: date | None = None) -> None:
    """`mlp plan`'s EKS support lines (yellow), after its checks."""
    for line in warnings(resources, on):
        console.print(f"[yellow]warning[/yellow] {line}")


def calendar_json(calendar: Calendar | None = None) -> dict[str, str]:
    calendar = calendar or load_calendar()
    return {"source": calendar.source, "asOf": calendar.as_of}
