"""How an estimate reads: the JSON contract (Infracost's field names, money as decimal strings),
CSV for spreadsheets, and the table for people."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from mlp.cost.core import CENT, HOURS_PER_MONTH, ZERO, money
from mlp.cost.estimator import Estimate
from mlp.cost.grouping import group_value
from mlp.prices import available_regions


def as_json(result: Estimate) -> dict[str, Any]:
    groups = {
        key: [
            {"value": value, "monthlyCost": money(entry["monthly"]), "baselineMonthlyCost": money(entry["baseline"]),
             "ceilingMonthlyCost": None if entry["unbounded"] else money(entry["ceiling"]), "resources": entry["resources"],
             "priceNotFound": entry["priceNotFound"]}
            for value, entry in values.items()
        ]
        for key, values in result.groups().items()
    }
    return {
        "currency": result.catalogue.currency,
        "region": result.region,
        "regionAssumed": result.region_assumed,
        "priceCatalogue": {"region": result.catalogue.region, "asOf": result.catalogue.as_of or None, "source": result.catalogue.source or None,
                           "available": result.catalogue.available},
        "usageFile": result.usage_source,
        "hoursPerMonth": int(HOURS_PER_MONTH),
        "totalMonthlyCost": money(result.total),
        "totalBaselineMonthlyCost": money(result.baseline_total),
        "totalCeilingMonthlyCost": None if result.ceiling_unbounded else money(result.ceiling_total),
        "ceilingUnbounded": result.ceiling_unbounded,
        "resources": [
            {
                "name": cost.resource.name,
                "urn": cost.resource.urn,
                "type": cost.resource.type,
                "tags": {key: group_value(cost.resource, key, result.stack_tags) for key in result.group_keys},
                "monthlyCost": money(cost.monthly_cost),
                "baselineMonthlyCost": money(cost.baseline_cost),
                "ceilingMonthlyCost": money(cost.ceiling_cost),
                "priceNotFound": cost.price_not_found,
                "costComponents": [component.as_json() for component in cost.components],
                **({"notes": cost.notes} if cost.notes else {}),
            }
            for cost in result.costs
        ],
        "groups": groups,
        "summary": {
            "pricedResources": sum(not c.price_not_found for c in result.costs),
            "priceNotFoundResources": sum(c.price_not_found for c in result.costs),
            "freeResources": result.free_resources,
            "unusedUsageEntries": result.unused_usage,
        },
    }


def _dollars(value: Decimal | None) -> str:
    return "-" if value is None else f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def render_table(result: Estimate, console: Console) -> None:
    catalogue = result.catalogue
    console.print(f"[bold]Monthly cost estimate[/bold]  region {result.region}  prices as of {catalogue.as_of or 'n/a'}  usage {result.usage_source}")
    if result.region_assumed:
        console.print(f"[yellow]the document does not say its region: priced in {result.region} (pass --region to choose)[/yellow]")
    if not catalogue.available:
        console.print(f"[yellow]no price catalogue for {result.region} (have {', '.join(available_regions())}): every price is reported as not found; "
                      f"run `mlp prices refresh --region {result.region}`[/yellow]")
    table = Table(title_justify="left")
    for title, justify in (("resource", "left"), ("monthly qty", "right"), ("unit", "left"), ("price", "right"), ("monthly", "right"), ("baseline", "right"), ("ceiling", "right")):
        table.add_column(title, justify=justify)
    for cost in sorted(result.costs, key=lambda c: (-(c.monthly_cost or ZERO), c.resource.urn)):
        flag = " [red](price not found)[/red]" if cost.price_not_found else ""
        table.add_row(f"[bold]{cost.resource.name}[/bold] [dim]{cost.resource.type}[/dim]{flag}", "", "", "",
                      _dollars(cost.monthly_cost), _dollars(cost.baseline_cost), "unbounded" if cost.ceiling_unbounded else _dollars(cost.ceiling_cost))
        for component in cost.components:
            table.add_row(f"  {component.name}", f"{component.quantity.quantize(CENT, rounding=ROUND_HALF_UP):,}", component.unit,
                          "[red]not found[/red]" if component.price is None else f"${component.price.normalize():f}",
                          _dollars(component.monthly_cost), "", "")
        for note in cost.notes:
            table.add_row(f"  [dim]{note}[/dim]", "", "", "", "", "", "")
    console.print(table)
    for key, values in result.groups().items():
        grouped = Table(title=f"By {key}", title_justify="left")
        for title in (key, "resources", "monthly", "baseline", "ceiling"):
            grouped.add_column(title, justify="left" if title == key else "right")
        for value, entry in values.items():
            grouped.add_row(value, str(entry["resources"]), _dollars(entry["monthly"]), _dollars(entry["baseline"]), "unbounded" if entry["unbounded"] else _dollars(entry["ceiling"]))
        console.print(grouped)
    not_found = sum(c.price_not_found for c in result.costs)
    console.print(f"[bold]Total monthly cost: {_dollars(result.total)}[/bold] (baseline {_dollars(result.baseline_total)}, "
                  f"ceiling {'unbounded' if result.ceiling_unbounded else _dollars(result.ceiling_total)}); "
                  f"{len(result.costs) - not_found} priced resource(s), {result.free_resources} free" + (f", [red]{not_found} with a price not found[/red]" if not_found else ""))
    for entry in result.unused_usage:
        console.print(f"[yellow]usage entry matches no resource: resource_usage.{entry}[/yellow]")


def render_csv(result: Estimate) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "urn", *result.group_keys, "monthlyCost", "baselineMonthlyCost", "ceilingMonthlyCost", "priceNotFound"])
    for cost in result.costs:
        writer.writerow([cost.resource.name, cost.resource.type, cost.resource.urn, *(group_value(cost.resource, k, result.stack_tags) for k in result.group_keys),
                         money(cost.monthly_cost) or "", money(cost.baseline_cost), money(cost.ceiling_cost) or "", str(cost.price_not_found).lower()])
    return out.getvalue()
