"""`mlp prices`: list the shipped catalogues, or `refresh --region R` to regenerate a region's
catalogue from the AWS Price List API.

Entries the API does not answer keep their previous value and are listed under `notRefreshed`,
so a partial refresh is visible. Every product the API returns is checked as it is read (JSON
text, attributes, on-demand terms, a finite USD price per unit): a broken answer is an error
naming the API and the field, and the catalogue on disk is replaced only by a complete, valid
document (written atomically), never by a half-written or half-priced one.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from mlp import aws
from mlp.errors import UserError
from mlp.files import write_atomic
from mlp.prices import (
    PRICE_SPECS,
    PRICING_API_REGION,
    PriceSpec,
    available_regions,
    catalogue_path,
    load_catalogue,
    read_catalogue_file,
    validate_catalogue,
)

# Region prefix of a usage type ("USE1-", "USW2-", ...); us-east-1 often has none.
_USAGE_PREFIX = re.compile(r"^[A-Z]{2,4}\d-")
_API = "Pricing GetProducts"


@dataclass(frozen=True)
class Product:
    usage_type: str  # without its region prefix
    attributes: dict[str, str]
    prices: tuple[Decimal, ...]  # USD per unit of each on-demand tier, lowest range first


def _product(item: Any, where: str) -> Product:
    if isinstance(item, str):
        try:
            item = json.loads(item, parse_constant=lambda name: name)  # NaN stays text, refused below
        except (ValueError, RecursionError):
            raise aws.AnswerError(_API, where, "expected a product as JSON text, got text that is not JSON") from None
    product = aws.need({"item": item}, "item", dict, _API, where)
    attributes = aws.need(aws.need(product, "product", dict, _API, where), "attributes", dict, _API, f"{where}.product")
    on_demand = aws.need(aws.need(product, "terms", dict, _API, where), "OnDemand", dict, _API, f"{where}.terms", optional=True)
    tiers = []
    for term_id, term in on_demand.items():
        term_where = f"{where}.terms.OnDemand.{term_id}"
        for dimension_id, dimension in aws.need(term, "priceDimensions", dict, _API, term_where).items():
            dimension_where = f"{term_where}.priceDimensions.{dimension_id}"
            unit_prices = aws.need(dimension, "pricePerUnit", dict, _API, dimension_where)
            if "USD" not in unit_prices:
                continue
            begin = aws.amount(dimension.get("beginRange") or "0", _API, f"{dimension_where}.beginRange", minimum=Decimal(0))
            tiers.append((begin, aws.amount(unit_prices["USD"], _API, f"{dimension_where}.pricePerUnit.USD", minimum=Decimal(0))))
    usage_type = attributes.get("usagetype", "")
    if not isinstance(usage_type, str):
        raise aws.AnswerError(_API, f"{where}.product.attributes.usagetype", "expected a string")
    return Product(_USAGE_PREFIX.sub("", usage_type), attributes, tuple(price for _, price in sorted(tiers, key=lambda tier: tier[0])))


def _price(product: Product, tier: int = 0) -> Decimal | None:
    """The first tier with a price above zero (free tiers are account-wide allowances, not list
    prices), or the requested tier."""
    if tier:
        return product.prices[tier] if tier < len(product.prices) else None
    paid = [price for price in product.prices if price > 0]
    return paid[0] if paid else (product.prices[0] if product.prices else None)


def _products(client, service: str, filters: dict[str, str]) -> Iterator[Product]:
    request = {
        "ServiceCode": service,
        "FormatVersion": "aws_v1",
        "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
    }
    for answer in aws.pages(client, "get_products", **request):
        for i, item in enumerate(aws.need(answer, "PriceList", list, _API, "", optional=True)):
            yield _product(item, f"PriceList[{i}]")


def _count(attributes: dict, key: str, previous: Any) -> Any:
    """A number from an attribute like "8 GiB" or "1,024": the previous value when there is none."""
    text = attributes.get(key)
    match = re.fullmatch(r"\s*(\d[\d,]*(\.\d+)?)(\s.*)?", text) if isinstance(text, str) else None
    if text in (None, "", "NA"):
        return previous
    if match is None:
        raise aws.AnswerError(_API, f"product.attributes.{key}", f"expected a number, got {str(text)[:30]!r}")
    return Decimal(match.group(1).replace(",", ""))


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def _set(document: dict, path: tuple[str, ...], value: str) -> None:
    node: Any = document
    for key in path[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value


def refresh_catalogue(region: str, client, template: dict[str, Any], specs: list[PriceSpec] | None = None, today: date | None = None) -> dict[str, Any]:
    """A new catalogue document for `region`: the entries of `template` (a catalogue document,
    normally the region's current one) re-priced from the Price List API."""
    document = copy.deepcopy(template)
    document["region"] = region
    missing: list[str] = []

    for name, spec in list((document.get("ec2", {}).get("instances") or {}).items()):
        filters = {"regionCode": region, "instanceType": name, "operatingSystem": "Linux", "tenancy": "Shared",
                   "preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required"}
        for product in _products(client, "AmazonEC2", filters):
            price = _price(product)
            if price is None:
                continue
            spec["hourly"] = _plain(price)
            spec["vcpu"] = int(_count(product.attributes, "vcpu", spec["vcpu"]))
            spec["memoryGiB"] = float(_count(product.attributes, "memory", spec["memoryGiB"]))
            spec["gpus"] = int(_count(product.attributes, "gpu", 0))
            break
        else:
            missing.append(f"ec2.instances.{name}")

    hosting = (document.get("sagemaker") or {}).get("hostingInstances") or {}
    for name in list(hosting):
        prices = [_price(p) for p in _products(client, "AmazonSageMaker", {"regionCode": region, "instanceName": name}) if p.usage_type == f"Host:{name}"]
        prices = [p for p in prices if p is not None]
        if prices:
            hosting[name] = _plain(prices[0])
        else:
            missing.append(f"sagemaker.hostingInstances.{name}")

    # One query per (service, filters): each answers several entries.
    groups: dict[tuple[str, tuple], list[PriceSpec]] = {}
    for spec in specs if specs is not None else PRICE_SPECS:
        groups.setdefault((spec.service, spec.filters), []).append(spec)
    for (service, filters), members in groups.items():
        by_usage: dict[str, Product] = {}
        for product in _products(client, service, {"regionCode": region, **dict(filters)}):
            by_usage.setdefault(product.usage_type, product)
        for spec in members:
            product = by_usage.get(spec.usage_type)
            price = _price(product, spec.tier) if product else None
            if price is None:
                missing.append(".".join(spec.path))
                continue
            # Byte-hour storage is listed per GB-month already; only request counts need scaling.
            _set(document, spec.path, _plain(price * spec.scale))

    document["asOf"] = (today or date.today()).isoformat()
    document["source"] = f"AWS Price List API (pricing.get_products, {PRICING_API_REGION} endpoint), on-demand Linux shared-tenancy prices for {region}"
    if missing:
        document["notRefreshed"] = sorted(missing)
    else:
        document.pop("notRefreshed", None)
    return document


def pricing_client():
    # The Price List API throttles hard: standard retries back off, within mlp's deadline.
    return aws.client("pricing", PRICING_API_REGION)


def run_refresh(args: argparse.Namespace) -> int:
    target = catalogue_path(args.region, Path(args.dir) if args.dir else None)
    template_path = target if target.exists() else catalogue_path("us-east-1")
    template = read_catalogue_file(template_path).data
    document = refresh_catalogue(args.region, pricing_client(), template)
    try:
        validate_catalogue(document, _API)
    except UserError as error:  # a price the API gave that no catalogue may hold
        raise aws.AnswerError(_API, error.key or "(catalogue)", error.message) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, json.dumps(document, indent=1) + "\n")
    print(f"wrote {target} (as of {document['asOf']})")
    for path in document.get("notRefreshed", []):
        print(f"not refreshed (kept the previous price): {path}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    for region in available_regions():
        catalogue = load_catalogue(region)
        print(f"{region}: as of {catalogue.as_of}, {len(catalogue.instances())} instance types; {catalogue.source}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prices", help="the shipped price catalogues: list them, or refresh one from the AWS Price List API")
    actions = parser.add_subparsers(dest="prices_command", required=True, metavar="ACTION")
    refresh = actions.add_parser("refresh", help="regenerate a region's catalogue from the AWS Price List API (needs AWS credentials)")
    refresh.add_argument("--region", required=True, help="AWS region, e.g. us-east-1")
    refresh.add_argument("--dir", help=argparse.SUPPRESS)
    refresh.set_defaults(handler=run_refresh)
    show = actions.add_parser("list", help="list the shipped catalogues and their dates")
    show.set_defaults(handler=_show)
