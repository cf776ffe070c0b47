"""`mlp diff --format json`: the same facts as the comment, for machines, with the metadata that
traces an output to what produced it (tool version, generation time, price catalogue, region,
currency, usage files).

One pair of documents gives one stack's object at the top level (the keys of earlier versions
stay: `currency`, `region`, `base`, `head`, `monthlyCostChange`, `summary`, `resources`,
`byTag`, `priceNotFound`); several pairs give `stacks` (one such object each) and `total`.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from mlp import PROJECT_ROOT
from mlp.cost import money
from mlp.diff.compare import SCENARIOS, LineChange, ResourceChange, StackDiff, scenario_cost

FORMAT_VERSION = 2


def tool_version() -> str:
    """`MLP_TOOL_VERSION` if set (CI passes the commit), else the checkout's commit, else unknown."""
    if os.environ.get("MLP_TOOL_VERSION"):
        return os.environ["MLP_TOOL_VERSION"]
    try:
        done = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def generated_at() -> str:
    """Now in UTC; `SOURCE_DATE_EPOCH` (the reproducible-builds convention) fixes it."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch and epoch.isdigit() else datetime.now(timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def metadata(stacks: list[StackDiff], when: str) -> dict[str, Any]:
    first = stacks[0].head
    return {
        "tool": "mlp diff",
        "toolVersion": tool_version(),
        "formatVersion": FORMAT_VERSION,
        "generatedAt": when,
        "pricedOn": first.on.isoformat(),
        "currency": first.catalogue.currency,
        "stacks": [{"name": d.name, "region": d.head.region,
                    "priceCatalogue": {"region": d.head.catalogue.region, "asOf": d.head.catalogue.as_of or None, "source": d.head.catalogue.source or None},
                    "baseUsageFile": d.base.usage_source, "headUsageFile": d.head.usage_source} for d in stacks],
    }


def _scenario_changes(owner: Any) -> dict[str, str | None]:
    return {f"{'monthly' if s == 'expected' else s}CostChange": money(owner.change(s)) for s in SCENARIOS}


def _line_json(line: LineChange) -> dict[str, Any]:
    def side(component):
        return None if component is None else {s: money(scenario_cost(component, s)) for s in SCENARIOS}

    return {"name": line.name, "usageKey": line.usage_key, "base": side(line.base), "head": side(line.head),
            "change": {s: money(line.change(s)) for s in SCENARIOS}}


def resource_json(change: ResourceChange) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "change": change.kind,
        "name": change.name,
        "urn": change.urn,
        "type": change.type,
        "tags": change.tags,
    }
    if change.kind in ("change", "replace"):
        entry["changedInputs"] = change.changed_inputs
    entry.update({
        "propertyChanges": [p.as_json() for p in change.properties],
        "baseMonthlyCost": money(change.cost("base")),
        "headMonthlyCost": money(change.cost("head")),
        "monthlyCostChange": money(change.cost_change),
        "floorMonthlyCostChange": money(change.change("floor")),
        "ceilingMonthlyCostChange": money(change.change("ceiling")),
        "priceNotFound": change.price_not_found,
        "protected": change.protected,
        "costComponentChanges": [_line_json(line) for line in change.lines()],
        "usageChanges": [{"path": path, "old": old, "new": new} for path, old, new in change.usage_changes],
    })
    return entry


def _totals(diff: StackDiff, side: str) -> dict[str, Any]:
    estimate_ = diff.base if side == "base" else diff.head
    return {"totalMonthlyCost": money(estimate_.total), "totalFixedMonthlyCost": money(estimate_.fixed_total), "totalUsageMonthlyCost": money(estimate_.usage_total),
            "totalFloorMonthlyCost": money(estimate_.floor_total), "totalCeilingMonthlyCost": money(diff.total(side, "ceiling"))}


def stack_json(diff: StackDiff) -> dict[str, Any]:
    return {
        "name": diff.name,
        "currency": diff.head.catalogue.currency,
        "region": diff.head.region,
        "base": _totals(diff, "base"),
        "head": _totals(diff, "head"),
        "monthlyCostChange": money(diff.cost_change),
        "monthlyCostChangePercent": None if diff.percent is None else str(diff.percent),
        "floorMonthlyCostChange": money(diff.change("floor")),
        "ceilingMonthlyCostChange": money(diff.change("ceiling")),
        "summary": {"add": diff.count("add"), "change": diff.count("change"), "replace": diff.count("replace"), "remove": diff.count("remove")},
        "flagged": [{"name": c.name, "urn": c.urn, "type": c.type, "change": c.kind, "protected": c.protected,
                     "replacedBy": [p.path for p in c.properties if p.replaces]} for c in diff.flagged()],
        "resources": [resource_json(change) for change in diff.changes],
        "byTag": {
            key: [{"value": r["value"], "baseMonthlyCost": money(r["base"]), "headMonthlyCost": money(r["head"]), "monthlyCostChange": money(r["change"]),
                   "floorMonthlyCostChange": money(r["floor"][1] - r["floor"][0]), "ceilingMonthlyCostChange": money(r["ceiling"][1] - r["ceiling"][0])}
                  for r in rows]
            for key, rows in diff.by_tag().items()
        },
        "budgets": [check.as_json() for check in diff.budgets],
        "budgetsSkipped": diff.budgets_skipped,
        "usageChanges": [{"path": path, "old": old, "new": new} for path, old, new in diff.usage_changes],
        "priceNotFound": sorted({c.resource.urn for c in diff.head.costs if c.price_not_found}),
        "notPricedByType": diff.head.not_priced_by_type(),
    }


def as_json(stacks: list[StackDiff], trips: list[str] | None = None, when: str | None = None, exit_code: int = 0) -> dict[str, Any]:
    when = when or generated_at()
    guardrails = {"tripped": trips or [], "exitCode": exit_code}
    if len(stacks) == 1:
        return {**stack_json(stacks[0]), "metadata": metadata(stacks, when), "guardrails": guardrails}
    total: dict[str, Any] = {}
    for side in ("base", "head"):
        sums = {s: sum((d.total(side, s) or Decimal(0) for d in stacks), Decimal(0)) for s in SCENARIOS}
        unbounded = any(d.total(side, "ceiling") is None for d in stacks)
        total[side] = {"totalMonthlyCost": money(sums["expected"]), "totalFloorMonthlyCost": money(sums["floor"]),
                       "totalCeilingMonthlyCost": None if unbounded else money(sums["ceiling"])}
    total["monthlyCostChange"] = money(sum((d.cost_change for d in stacks), Decimal(0)))
    return {"metadata": metadata(stacks, when), "currency": stacks[0].head.catalogue.currency, "stacks": [stack_json(d) for d in stacks],
            "total": total, "guardrails": guardrails}
