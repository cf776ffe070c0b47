"""Volume tiers the way AWS applies them: S3 storage, interface-endpoint data processed and data
transfer out get cheaper per GB as the month's volume grows, and the volume counted is the
account's per region, not one resource's. The estimator therefore prices each tiered line at the
blended rate of the stack's total for that tier table (other stacks in the same account only
lower it further, so the estimate errs high, never low)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from mlp.cost.core import ZERO, CostComponent, Price, quantity_text, to_decimal
from mlp.prices import Catalogue


def tiered_cost(tiers: list[dict[str, Any]], quantity: Decimal) -> Decimal | None:
    """The cost of `quantity` through `tiers` (`[{"upTo": 51200, "price": "0.023"}, ...,
    {"price": "0.021"}]`, upper bounds cumulative); None if a tier it reaches has no price."""
    total, lower = ZERO, ZERO
    for tier in tiers:
        upper = to_decimal(tier.get("upTo"), quantity) if tier.get("upTo") is not None else quantity
        in_tier = max(ZERO, min(quantity, upper) - lower)
        if in_tier:
            price = to_decimal(tier.get("price"), Decimal(-1))
            if price < 0:
                return None
            total += in_tier * price
        lower = max(lower, upper)
        if lower >= quantity:
            break
    return total if lower >= quantity else None


def tier_table(catalogue: Catalogue, path: tuple[str, ...]) -> list[dict] | None:
    tiers = catalogue.section(*path)
    return tiers if isinstance(tiers, list) and tiers and all(isinstance(t, dict) for t in tiers) else None


def first_tier_price(catalogue: Catalogue, path: tuple[str, ...]) -> Price | None:
    tiers = tier_table(catalogue, path)
    price = to_decimal(tiers[0].get("price"), Decimal(-1)) if tiers else Decimal(-1)
    return None if price < 0 else Price(price, (".".join(path),))


def apply_tiers(components: Iterable[CostComponent], catalogue: Catalogue) -> None:
    """Price every tiered line at the blended rate of its table's stack-wide total."""
    by_table: dict[tuple[str, ...], list[CostComponent]] = {}
    for component in components:
        by_table.setdefault(component.tier, []).append(component)
    for path, members in by_table.items():
        tiers = tier_table(catalogue, path)
        total = sum((c.quantity for c in members), ZERO)
        cost = tiered_cost(tiers, total) if tiers else None
        if tiers is None or cost is None:
            for component in members:
                component.price = None
            continue
        first = first_tier_price(catalogue, path)
        blended = first if total == 0 or first is None else Price(cost / total, first.refs)
        for component in members:
            component.price = blended
            if blended is not None and first is not None and blended < first:
                component.name += f" (volume tiers over the stack's {quantity_text(total)} {component.unit})"
