"""What every pricer shares: money and quantities, the priced lines it returns, and the table it
registers in. A month is 730 hours; money is Decimal, rounded only when shown.

Three figures per line and per resource:
- expected: what the month costs with the usage file's usage and each scaling group at its
  desired size;
- floor: the same at minimum scale (scaling groups at their minimum, Karpenter pools at zero);
  the output used to call it "baseline", which Infracost users read as fixed cost: it is not;
- ceiling: finance's worst case, every pool and scaling group at its limit all month.
Independently, each line is fixed (the stack costs it whatever happens) or usage-based (it
depends on a usage-file key, which the line names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

# Pricers count months in hours from here; the catalogue owns the figure.
from mlp.prices import HOURS_PER_MONTH as HOURS_PER_MONTH
from mlp.state import StateResource

ZERO = Decimal(0)
CENT = Decimal("0.01")
GIB = Decimal(1024) ** 3
UNTAGGED = "(untagged)"  # the group of what lacks a tag, here and in `mlp report`


def quantity_text(value: Decimal) -> str:
    """A quantity to at most 4 decimals, without trailing zeros (prorated hours are long)."""
    text = format(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def to_decimal(value: Any, default: Decimal = ZERO) -> Decimal:
    """A number from a resource input or a usage entry; `default` where there is none (a bool
    is no number, though Python says it is)."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return default


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


def kubernetes_quantity(value: Any) -> Decimal | None:
    """A Kubernetes resource quantity ("64", "500m", "256Gi") as a number (of units or bytes)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip()) if value is not None else None
    if not match or match.group(2) not in _SUFFIX:
        return None
    return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2)])


class Price(Decimal):
    """A unit price that remembers the catalogue entries it comes from (`refs`, dotted paths
    such as `vpc.natGatewayHour`), so the output can say where each price came from and
    whether anyone checked it. Arithmetic on it gives a plain Decimal."""

    refs: tuple[str, ...]

    def __new__(cls, value: Any, refs: tuple[str, ...] = ()) -> "Price":
        price = super().__new__(cls, value)
        price.refs = refs
        return price


# --- results -----------------------------------------------------------------------------------


@dataclass
class CostComponent:
    """One priced line: price x quantity per month, with the quantity at floor and ceiling
    scale. `usage_key` names the usage-file key the line depends on (a usage-based line);
    `tier` names a catalogue tier table whose volume discounts apply to the stack's total of
    such lines (the estimator sets `price` then)."""

    name: str
    unit: str
    price: Decimal | None
    quantity: Decimal
    floor_quantity: Decimal | None = None
    ceiling_quantity: Decimal | None = None
    usage_key: str | None = None
    tier: tuple[str, ...] | None = None
    usage_given: bool = True  # False: the usage file does not set `usage_key` for this resource

    @property
    def usage_based(self) -> bool:
        return self.usage_key is not None

    @property
    def price_not_found(self) -> bool:
        return self.price is None

    @property
    def refs(self) -> tuple[str, ...]:
        return getattr(self.price, "refs", ())

    def cost(self, quantity: Decimal | None) -> Decimal:
        return ZERO if self.price is None else self.price * quantity

    @property
    def monthly_cost(self) -> Decimal | None:
        return None if self.price is None else self.price * self.quantity

    @property
    def floor_cost(self) -> Decimal:
        return self.cost(self.quantity if self.floor_quantity is None else self.floor_quantity)

    @property
    def ceiling_cost(self) -> Decimal:
        return self.cost(self.quantity if self.ceiling_quantity is None else self.ceiling_quantity)

    baseline_cost = floor_cost  # the floor's earlier name


@dataclass
class ResourceCost:
    resource: StateResource
    components: list[CostComponent] = field(default_factory=list)
    priced_type: bool = True  # False: no pricer and not known to be free
    ceiling_unbounded: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def price_not_found(self) -> bool:
        return not self.priced_type or any(c.price is None for c in self.components)

    def totals(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """(expected, fixed, usage-based, floor, ceiling) in one pass over the lines: what the
        outputs sum over tens of thousands of resources."""
        fixed = usage = floor = ceiling = ZERO
        for line in self.components:
            price = line.price
            if price is None:
                continue
            monthly = price * line.quantity
            if line.usage_key is None:
                fixed += monthly
            else:
                usage += monthly
            floor += monthly if line.floor_quantity is None else price * line.floor_quantity
            ceiling += monthly if line.ceiling_quantity is None else price * line.ceiling_quantity
        return fixed + usage, fixed, usage, floor, ceiling

    @property
    def monthly_cost(self) -> Decimal | None:
        if not self.priced_type:
            return None
        return sum((c.monthly_cost or ZERO for c in self.components), ZERO)

    @property
    def fixed_cost(self) -> Decimal:
        return sum((c.monthly_cost or ZERO for c in self.components if not c.usage_based), ZERO)

    @property
    def usage_cost(self) -> Decimal:
        return sum((c.monthly_cost or ZERO for c in self.components if c.usage_based), ZERO)

    @property
    def floor_cost(self) -> Decimal:
        return sum((c.floor_cost for c in self.components), ZERO)

    @property
    def ceiling_cost(self) -> Decimal | None:
        return None if self.ceiling_unbounded else sum((c.ceiling_cost for c in self.components), ZERO)

    baseline_cost = floor_cost  # the floor's earlier name


class UsageMismatch(Exception):
    """Usage that is valid on its own but names something the resource does not have."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


# --- the pricer table --------------------------------------------------------------------------

Pricer = Callable[[StateResource, dict, Any], "list[CostComponent] | ResourceCost"]


@dataclass(frozen=True)
class PricerEntry:
    function: Pricer
    usage_schema: dict


PRICERS: dict[str, PricerEntry] = {}

# Usage-key schemas the pricers' declarations share.
NUMBER = {"type": "number", "minimum": 0}
HOURS = {"type": "number", "minimum": 0, "maximum": 744}


def object_schema(**properties: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties}


def pricer(*type_tokens: str, **usage_keys: dict):
    """Register a pricer for these type tokens; `usage_keys` are the usage-file keys it reads,
    as JSON schemas, so a typo in a usage file is an error and not a silent $0."""

    def register(function: Pricer) -> Pricer:
        for token in type_tokens:
            PRICERS[token] = PricerEntry(function, object_schema(**usage_keys))
        return function

    return register


def usage_schemas() -> dict[str, dict]:
    return {token: entry.usage_schema for token, entry in PRICERS.items()}
