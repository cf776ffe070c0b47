"""How an estimate reads: the JSON contract (Infracost's field names, money as decimal strings),
CSV for spreadsheets, and the table for people.

Compatibility: `currency`, `totalMonthlyCost`, `resources[].monthlyCost` and the cost components
are the DESIGN contract. "baseline" is now called floor (cost at minimum scale, not Infracost's
fixed cost): every `floor...` key has its old `baseline...` twin with the same value, kept for
readers of the old name.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from mlp.cost.core import CENT, HOURS_PER_MONTH, ZERO, CostComponent, ResourceCost, money, quantity_text
from mlp.cost.eks_calendar import calendar_json
from mlp.cost.estimator import Estimate
from mlp.prices import available_regions

FLOOR_MEANS = "floor: each scaling group at its minimum and each Karpenter pool at zero, usage as in the usage file"
CEILING_MEANS = "ceiling: every pool and scaling group at its limit all month"


def component_json(component: CostComponent, result: Estimate) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": component.name,
        "unit": component.unit,
        "price": None if component.price is None else format(component.price, "f"),
        "monthlyQuantity": quantity_text(component.quantity),
        "monthlyCost": money(component.monthly_cost),
        "priceNotFound": component.price_not_found,
    }
    if component.floor_quantity is not None:
        entry["floorMonthlyQuantity"] = entry["baselineMonthlyQuantity"] = quantity_text(component.floor_quantity)
    if component.ceiling_quantity is not None:
        entry["ceilingMonthlyQuantity"] = quantity_text(component.ceiling_quantity)
    if component.usage_based:
        entry["usageBased"] = True
        entry["usageKey"] = component.usage_key
        if not component.usage_given:
            entry["usageGiven"] = False
    if component.price is not None:
        entry["priceRefs"] = list(component.refs)
        entry["priceVerified"] = result.provenance.verified(component.refs)
    return entry


def resource_json(cost: ResourceCost, result: Estimate) -> dict[str, Any]:
    monthly, fixed, usage, floor_cost, ceiling = result.totals_of(cost)
    floor = money(floor_cost)
    return {
        "name": cost.resource.name,
        "urn": cost.resource.urn,
        "type": cost.resource.type,
        "tags": result.tags_of(cost),
        "monthlyCost": money(monthly) if cost.priced_type else None,
        "fixedMonthlyCost": money(fixed),
        "usageMonthlyCost": money(usage),
        "floorMonthlyCost": floor,
        "baselineMonthlyCost": floor,
        "ceilingMonthlyCost": None if cost.ceiling_unbounded else money(ceiling),
        "priceNotFound": cost.price_not_found,
        "costComponents": [component_json(component, result) for component in cost.components],
        **({"notes": cost.notes} if cost.notes else {}),
    }


def price_sources(result: Estimate) -> dict[str, dict]:
    refs = sorted({ref for cost in result.costs for line in cost.components for ref in line.refs})
    return {ref: result.provenance.of(ref).as_json() for ref in refs}


def as_json(result: Estimate) -> dict[str, Any]:
    groups = {
        key: [
            {"value": value, "monthlyCost": money(entry["monthly"]), "fixedMonthlyCost": money(entry["fixed"]), "usageMonthlyCost": money(entry["usage"]),
             "floorMonthlyCost": money(entry["floor"]), "baselineMonthlyCost": money(entry["floor"]),
             "ceilingMonthlyCost": None if entry["unbounded"] else money(entry["ceiling"]), "resources": entry["resources"],
             "priceNotFound": entry["priceNotFound"]}
            for value, entry in values.items()
        ]
        for key, values in result.groups().items()
    }
    floor = money(result.floor_total)
    return {
        "currency": result.catalogue.currency,
        "region": result.region,
        "regionAssumed": result.region_assumed,
        "pricedOn": result.on.isoformat(),
        "priceCatalogue": {"region": result.catalogue.region, "asOf": result.catalogue.as_of or None, "source": result.catalogue.source or None,
                           "available": result.catalogue.available},
        "eksSupportCalendar": calendar_json(),
        "usageFile": result.usage_source,
        "hoursPerMonth": int(HOURS_PER_MONTH),
        "totalMonthlyCost": money(result.total),
        "totalFixedMonthlyCost": money(result.fixed_total),
        "totalUsageMonthlyCost": money(result.usage_total),
        "totalFloorMonthlyCost": floor,
        "totalBaselineMonthlyCost": floor,
        "totalCeilingMonthlyCost": None if result.ceiling_unbounded else money(result.ceiling_total),
        "ceilingUnbounded": result.ceiling_unbounded,
        "resources": [resource_json(cost, result) for cost in result.costs],
        "groups": groups,
        "priceSources": price_sources(result),
        "summary": {
            "pricedResources": sum(not c.price_not_found for c in result.costs),
            "priceNotFoundResources": sum(c.price_not_found for c in result.costs),
            "notPricedByType": result.not_priced_by_type(),
            "freeResources": result.free_resources,
            "unusedUsageEntries": result.unused_usage,
            "unverifiedPriceLines": result.unverified_lines(),
        },
    }


def dollars(value: Decimal | None) -> str:
    return "-" if value is None else f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def _line_label(component: CostComponent) -> str:
    if not component.usage_based:
        return f"  {component.name}"
    given = "" if component.usage_given else ", not set"
    return f"  {component.name} [dim](usage: {component.usage_key}{given})[/dim]"


def _price_cell(component: CostComponent, result: Estimate) -> str:
    if component.price is None:
        return "[red]not priced[/red]"
    text = f"${component.price.normalize():f}"
    return text if result.provenance.verified(component.refs) else f"{text} [dim]unverified[/dim]"


def render_table(result: Estimate, console: Console) -> None:
    catalogue = result.catalogue
    console.print(f"[bold]Monthly cost estimate[/bold]  region {result.region}  prices as of {catalogue.as_of or 'n/a'}  priced on {result.on}  usage {result.usage_source}")
    if result.region_assumed:
        console.print(f"[yellow]the document does not say its region: priced in {result.region} (pass --region to choose)[/yellow]")
    if not catalogue.available:
        console.print(f"[yellow]no price catalogue for {result.region} (have {', '.join(available_regions())}): every price is reported as not found; "
                      f"run `mlp prices refresh --region {result.region}`[/yellow]")
    table = Table(title_justify="left")
    for title, justify in (("resource", "left"), ("monthly qty", "right"), ("unit", "left"), ("price", "right"), ("monthly", "right"), ("floor", "right"), ("ceiling", "right")):
        table.add_column(title, justify=justify)
    for cost in sorted(result.costs, key=lambda c: (-(c.monthly_cost or ZERO), c.resource.urn)):
        flag = " [red](not priced)[/red]" if cost.price_not_found else ""
        table.add_row(f"[bold]{cost.resource.name}[/bold] [dim]{cost.resource.type}[/dim]{flag}", "", "", "",
                      dollars(cost.monthly_cost), dollars(cost.floor_cost), "unbounded" if cost.ceiling_unbounded else dollars(cost.ceiling_cost))
        for component in cost.components:
            table.add_row(_line_label(component), f"{component.quantity.quantize(CENT, rounding=ROUND_HALF_UP):,}", component.unit,
                          _price_cell(component, result), dollars(component.monthly_cost), "", "")
        for note in cost.notes:
            table.add_row(f"  [dim]{note}[/dim]", "", "", "", "", "", "")
    console.print(table)
    for key, values in result.groups().items():
        grouped = Table(title=f"By {key}", title_justify="left")
        for title in (key, "resources", "monthly", "fixed", "usage-based", "floor", "ceiling"):
            grouped.add_column(title, justify="left" if title == key else "right")
        for value, entry in values.items():
            grouped.add_row(value, str(entry["resources"]), dollars(entry["monthly"]), dollars(entry["fixed"]), dollars(entry["usage"]), dollars(entry["floor"]),
                            "unbounded" if entry["unbounded"] else dollars(entry["ceiling"]))
        console.print(grouped)
    not_found = sum(c.price_not_found for c in result.costs)
    console.print(f"[bold]Total monthly cost: {dollars(result.total)}[/bold] (fixed {dollars(result.fixed_total)} + usage-based {dollars(result.usage_total)}; "
                  f"floor {dollars(result.floor_total)}, ceiling {'unbounded' if result.ceiling_unbounded else dollars(result.ceiling_total)}); "
                  f"{len(result.costs) - not_found} priced resource(s), {result.free_resources} free" + (f", [red]{not_found} not priced[/red]" if not_found else ""))
    if not_found:
        console.print("[red]not priced (not in the totals):[/red] " + ", ".join(f"{count} x {kind}" for kind, count in result.not_priced_by_type().items()))
    unverified = result.unverified_lines()
    if unverified:
        console.print(f"[dim]{unverified} price line(s) come from catalogue entries no one has checked against a source (marked unverified); "
                      "`--format json` lists every entry's source under priceSources[/dim]")
    console.print(f"[dim]{FLOOR_MEANS}; {CEILING_MEANS}[/dim]")
    for entry in result.unused_usage:
        console.print(f"[yellow]usage entry matches no resource: resource_usage.{entry}[/yellow]")


def render_csv(result: Estimate) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "urn", *result.group_keys, "monthlyCost", "fixedMonthlyCost", "usageMonthlyCost", "floorMonthlyCost", "baselineMonthlyCost",
                     "ceilingMonthlyCost", "priceNotFound"])
    for cost in result.costs:
        floor = money(cost.floor_cost)
        writer.writerow([cost.resource.name, cost.resource.type, cost.resource.urn, *result.tags_of(cost).values(),
                         money(cost.monthly_cost) or "", money(cost.fixed_cost), money(cost.usage_cost), floor, floor, money(cost.ceiling_cost) or "",
                         str(cost.price_not_found).lower()])
    return out.getvalue()
