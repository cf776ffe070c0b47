"""`mlp cost`: the monthly cost of a stack, per resource and grouped by cost tags.

Reads a stack export, a `pulumi preview --json` file, or plans a stack (`--stack`), prices every
resource from the shipped catalogue (mlp/prices.py) and the usage file (mlp/usage.py), and
reports expected, floor and ceiling monthly cost, split into fixed and usage-based (core.py says
what each means). A month is 730 hours; money is Decimal.

Laid out like the bill: one module per AWS service or Kubernetes kind (compute, storage,
network, containers (EKS, with its support calendar in eks_calendar.py), charts (what Helm
releases create), sagemaker, monitoring, security, messaging), each registering its pricers by
type token (`@pricer(...)` in core.py), so a new resource type is one entry in the module of its
service. Types that cost nothing themselves are listed in free.py; anything else without a
pricer, or whose price the catalogue lacks, is reported as not priced (`priceNotFound: true`,
counted per type), never as a silent $0. context.py is what pricers may look at, tiers.py the
volume tiers over the stack's totals, provenance.py where each price came from; estimator.py
runs the pricers, grouping.py assigns costs to tags, output.py and command.py show them.
"""

# Every pricer module is imported here, so that importing any part of the package registers
# every pricer: the estimate never depends on which modules a caller happened to import.
from mlp.cost import analytics, charts, ci, compute, containers, efs, messaging, monitoring, network, sagemaker, security, storage  # noqa: F401
from mlp.cost.command import parse_day, parse_group_keys, register, run
from mlp.cost.context import PricingContext
from mlp.cost.core import (
    CENT,
    GIB,
    HOURS_PER_MONTH,
    PRICERS,
    UNTAGGED,
    ZERO,
    CostComponent,
    Price,
    Pricer,
    PricerEntry,
    ResourceCost,
    UsageMismatch,
    kubernetes_quantity,
    money,
    pricer,
    quantity_text,
    usage_schemas,
)
from mlp.cost.estimator import DEFAULT_REGION, Estimate, estimate, gc_paused, price_resource, region_of
from mlp.cost.free import FREE_PREFIXES, FREE_TYPES, is_known_free
from mlp.cost.grouping import DEFAULT_GROUP_KEYS, TAG_LABELS, group_value, release_labels, stack_default_tags
from mlp.cost.output import as_json, component_json, dollars, render_csv, render_table

__all__ = [
    "CENT", "DEFAULT_GROUP_KEYS", "DEFAULT_REGION", "FREE_PREFIXES", "FREE_TYPES", "GIB", "HOURS_PER_MONTH", "PRICERS", "TAG_LABELS",
    "UNTAGGED", "ZERO", "CostComponent", "Estimate", "Price", "Pricer", "PricerEntry", "PricingContext", "ResourceCost", "UsageMismatch",
    "as_json", "component_json", "dollars", "estimate", "gc_paused", "group_value", "is_known_free", "kubernetes_quantity", "money", "parse_day",
    "parse_group_keys", "price_resource",
    "pricer", "quantity_text", "region_of", "register", "release_labels", "render_csv", "render_table", "run", "stack_default_tags",
    "usage_schemas",
]
