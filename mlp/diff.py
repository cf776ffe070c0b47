"""`mlp diff BASE HEAD`: what a change adds, changes and removes, and what it does to the bill.

Resources are matched by URN; a changed resource lists the input keys whose values differ. Both
documents are priced with the same catalogue and usage file, so the cost change comes from the
code alone. `--format markdown` is the pull-request comment, `--format json` is for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from mlp.cost import (
    DEFAULT_GROUP_KEYS,
    ZERO,
    Estimate,
    ResourceCost,
    estimate,
    group_value,
    money,
    parse_group_keys,
    usage_schemas,
)
from mlp.state import StateResource, load_document
from mlp.usage import UsageFile, load_usage

# GitHub refuses comments above 65,536 characters and CI posts one comment for three stacks:
# each stack's details table stops at this many rows or characters, whichever comes first.
MAX_DETAIL_ROWS = 150
MAX_DETAIL_CHARS = 15_000


@dataclass
class ResourceChange:
    kind: str  # "add", "remove", "change"
    urn: str
    type: str
    changed_inputs: list[str] = field(default_factory=list)
    base_cost: Decimal | None = None
    head_cost: Decimal | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the cost tags it groups by (head's, else base's)
    price_not_found: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def cost_change(self) -> Decimal:
        return (self.head_cost or ZERO) - (self.base_cost or ZERO)


@dataclass
class Diff:
    base: Estimate
    head: Estimate
    changes: list[ResourceChange]
    group_keys: tuple[str, ...]

    @property
    def cost_change(self) -> Decimal:
        return self.head.total - self.base.total

    @property
    def percent(self) -> Decimal | None:
        if self.base.total == 0:
            return None
        return (self.cost_change / self.base.total * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def count(self, kind: str) -> int:
        return sum(change.kind == kind for change in self.changes)

    def by_tag(self) -> dict[str, list[dict[str, Any]]]:
        result = {}
        base_groups, head_groups = self.base.groups(), self.head.groups()
        for key in self.group_keys:
            values = sorted(set(base_groups.get(key, {})) | set(head_groups.get(key, {})))
            rows = []
            for value in values:
                before = base_groups.get(key, {}).get(value, {}).get("monthly", ZERO)
                after = head_groups.get(key, {}).get(value, {}).get("monthly", ZERO)
                rows.append({"value": value, "base": before, "head": after, "change": after - before})
            result[key] = sorted(rows, key=lambda row: (-abs(row["change"]), row["value"]))
        return result


def _comparable(resources: Iterable[StateResource]) -> dict[str, StateResource]:
    return {r.urn: r for r in resources if r.custom and r.type != "pulumi:pulumi:Stack"}


def changed_inputs(before: StateResource, after: StateResource) -> list[str]:
    keys = set(before.inputs) | set(after.inputs)
    return sorted(k for k in keys if before.inputs.get(k) != after.inputs.get(k))


def diff_resources(base: list[StateResource], head: list[StateResource], usage: UsageFile | None = None,
                   group_keys: Iterable[str] = DEFAULT_GROUP_KEYS, region: str | None = None) -> Diff:
    group_keys = tuple(group_keys)
    base_estimate = estimate(base, usage, region, group_keys)
    head_estimate = estimate(head, usage, region, group_keys)
    base_costs = {c.resource.urn: c for c in base_estimate.costs}
    head_costs = {c.resource.urn: c for c in head_estimate.costs}
    before, after = _comparable(base), _comparable(head)

    def cost(costs: dict[str, ResourceCost], urn: str) -> Decimal | None:
        return costs[urn].monthly_cost if urn in costs else None

    def described(change: ResourceChange) -> ResourceChange:
        side, side_estimate, costs = (after, head_estimate, head_costs) if change.urn in after else (before, base_estimate, base_costs)
        change.tags = {key: group_value(side[change.urn], key, side_estimate.stack_tags) for key in group_keys}
        change.price_not_found = change.urn in costs and costs[change.urn].price_not_found
        return change

    changes = []
    for urn in sorted(set(before) | set(after)):
        if urn not in before:
            changes.append(described(ResourceChange("add", urn, after[urn].type, head_cost=cost(head_costs, urn))))
        elif urn not in after:
            changes.append(described(ResourceChange("remove", urn, before[urn].type, base_cost=cost(base_costs, urn))))
        else:
            keys = changed_inputs(before[urn], after[urn])
            base_cost, head_cost = cost(base_costs, urn), cost(head_costs, urn)
            if keys or base_cost != head_cost:
                changes.append(described(ResourceChange("change", urn, after[urn].type, keys, base_cost, head_cost)))
    return Diff(base_estimate, head_estimate, changes, group_keys)


# --- output ------------------------------------------------------------------------------------


def _signed(value: Decimal) -> str:
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{'+' if rounded > 0 else '-' if rounded < 0 else '±'}${abs(rounded):,}"


def _usd(value: Decimal | None) -> str:
    return "-" if value is None else f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_json(diff: Diff) -> dict[str, Any]:
    return {
        "currency": diff.head.catalogue.currency,
        "region": diff.head.region,
        "base": {"totalMonthlyCost": money(diff.base.total), "totalCeilingMonthlyCost": None if diff.base.ceiling_unbounded else money(diff.base.ceiling_total)},
        "head": {"totalMonthlyCost": money(diff.head.total), "totalCeilingMonthlyCost": None if diff.head.ceiling_unbounded else money(diff.head.ceiling_total)},
        "monthlyCostChange": money(diff.cost_change),
        "monthlyCostChangePercent": None if diff.percent is None else str(diff.percent),
        "summary": {"add": diff.count("add"), "change": diff.count("change"), "remove": diff.count("remove")},
        "resources": [
            {
                "change": change.kind,
                "name": change.name,
                "urn": change.urn,
                "type": change.type,
                "tags": change.tags,
                **({"changedInputs": change.changed_inputs} if change.kind == "change" else {}),
                "baseMonthlyCost": money(change.base_cost),
                "headMonthlyCost": money(change.head_cost),
                "monthlyCostChange": money(change.cost_change),
                "priceNotFound": change.price_not_found,
            }
            for change in diff.changes
        ],
        "byTag": {
            key: [{"value": r["value"], "baseMonthlyCost": money(r["base"]), "headMonthlyCost": money(r["head"]), "monthlyCostChange": money(r["change"])} for r in rows]
            for key, rows in diff.by_tag().items()
        },
        "priceNotFound": sorted({c.resource.urn for c in diff.head.costs if c.price_not_found}),
    }


def render_markdown(diff: Diff, title: str | None = None) -> str:
    percent = "new spend" if diff.percent is None and diff.head.total else ("±0%" if diff.percent is None else f"{'+' if diff.percent > 0 else ''}{diff.percent}%")
    heading = f"{title}: " if title else ""
    lines = [
        f"### {heading}monthly cost {_usd(diff.base.total)} → {_usd(diff.head.total)} ({_signed(diff.cost_change)}, {percent})",
        "",
        f"**{diff.count('add')} to add, {diff.count('change')} to change, {diff.count('remove')} to remove** · "
        f"region {diff.head.region} · prices as of {diff.head.catalogue.as_of or 'n/a'} · usage `{diff.head.usage_source}` · a month is 730 h",
    ]
    if not diff.head.ceiling_unbounded and not diff.base.ceiling_unbounded:
        lines.append(f"Worst case (every pool and scaling group at its limit): {_usd(diff.base.ceiling_total)} → {_usd(diff.head.ceiling_total)} ({_signed(diff.head.ceiling_total - diff.base.ceiling_total)})")
    missing = [c for c in diff.head.costs if c.price_not_found]
    if missing:
        lines.append(f"⚠️ {len(missing)} resource(s) have no price in the catalogue and are not in the totals: "
                     + ", ".join(f"`{c.resource.name}`" for c in missing[:10]) + (" ..." if len(missing) > 10 else ""))
    for key, rows in diff.by_tag().items():
        lines += ["", f"| {_cell(key)} | before | after | change |", "|---|---:|---:|---:|"]
        for row in rows:
            lines.append(f"| {_cell(row['value'])} | {_usd(row['base'])} | {_usd(row['head'])} | {_signed(row['change'])} |")
    if diff.changes:
        lines += ["", f"<details><summary>Resource changes ({len(diff.changes)})</summary>", "",
                  "| | resource | type | before | after | change | changed inputs |", "|---|---|---|---:|---:|---:|---|"]
        mark = {"add": "➕", "remove": "➖", "change": "✏️"}
        ordered = sorted(diff.changes, key=lambda c: (-abs(c.cost_change), c.kind, c.urn))
        shown = used = 0
        for change in ordered[:MAX_DETAIL_ROWS]:
            row = (f"| {mark[change.kind]} | `{_cell(change.name)}` | `{_cell(change.type)}` | {_usd(change.base_cost)} | {_usd(change.head_cost)} | "
                   f"{_signed(change.cost_change)} | {_cell(', '.join(change.changed_inputs))} |")
            if used + len(row) > MAX_DETAIL_CHARS:
                break
            lines.append(row)
            shown, used = shown + 1, used + len(row) + 1
        if len(ordered) > shown:
            lines.append(f"| | ... and {len(ordered) - shown} more (`mlp diff --format json` lists all) | | | | | |")
        lines += ["", "</details>"]
    else:
        lines += ["", "No resource changes."]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    group_keys = parse_group_keys(args.by)
    usage = load_usage(args.usage, usage_schemas())
    result = diff_resources(load_document(args.base), load_document(args.head), usage, group_keys, args.region)
    if args.format == "json":
        sys.stdout.write(json.dumps(as_json(result), indent=2) + "\n")
    else:
        sys.stdout.write(render_markdown(result, args.title))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("diff", help="resources and monthly cost a change adds, changes and removes")
    parser.add_argument("base", help="stack export or preview of the base (e.g. the target branch)")
    parser.add_argument("head", help="stack export or preview of the head (e.g. the pull request)")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--usage", help="usage file both sides are priced with (stacks/usage.<env>.yaml)")
    parser.add_argument("--by", help=f"tag keys to group the change by (default {','.join(DEFAULT_GROUP_KEYS)})")
    parser.add_argument("--region", help="price in this region instead of the documents'")
    parser.add_argument("--title", help="heading of the markdown comment, e.g. the stack name")
    parser.set_defaults(handler=run)
