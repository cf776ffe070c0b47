"""The price catalogue: dated on-demand list prices per region, shipped in mlp/data/prices/.

`mlp cost` reads prices only from here, so an estimate never needs the network and two runs on
the same catalogue agree. `mlp prices refresh --region R` regenerates a region's catalogue from
the AWS Price List API (boto3 `pricing.get_products`); entries the API does not answer keep
their previous value and are listed under `notRefreshed`, so a partial refresh is visible.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import jsonschema

from mlp.errors import UserError
from mlp.files import read_json

CATALOGUE_DIR = Path(__file__).resolve().parent / "data" / "prices"
HOURS_PER_MONTH = Decimal(730)
# The Price List API is served from a few regions only; us-east-1 answers for every region.
PRICING_API_REGION = "us-east-1"

_PRICE = {"type": "string", "pattern": r"^\d+(\.\d+)?$"}
CATALOGUE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["region", "currency", "asOf", "source", "ec2"],
    "properties": {
        "region": {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-\d$"},
        "currency": {"const": "USD"},
        "asOf": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "source": {"type": "string", "minLength": 1},
        "hoursPerMonth": {"const": 730},
        "ec2": {
            "type": "object",
            "required": ["instances"],
            "properties": {
                "spotToOnDemandRatio": _PRICE,
                "instances": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["hourly", "vcpu", "memoryGiB", "gpus"],
                        "properties": {
                            "hourly": _PRICE,
                            "vcpu": {"type": "number", "minimum": 0},
                            "memoryGiB": {"type": "number", "minimum": 0},
                            "gpus": {"type": "number", "minimum": 0},
                        },
                    },
                },
            },
        },
        "notRefreshed": {"type": "array", "items": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class InstanceType:
    name: str
    hourly: Decimal
    vcpu: Decimal
    memory_gib: Decimal
    gpus: Decimal

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def category(self) -> str:
        """Karpenter's `instance-category`: the family's leading letters (m, c, r, g, p, ...)."""
        return re.match(r"[a-z]+", self.family).group(0)[:1] if self.family else ""


@dataclass
class Catalogue:
    region: str
    currency: str = "USD"
    as_of: str = ""
    source: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def available(self) -> bool:
        return bool(self.data)

    def price(self, *path: str) -> Decimal | None:
        """The price at `path` (e.g. `price("vpc", "natGatewayHour")`), or None if the
        catalogue lacks it: callers turn None into `priceNotFound`, never into $0."""
        node: Any = self.data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        if isinstance(node, bool) or not isinstance(node, (str, int, float)):
            return None
        return Decimal(str(node))

    def section(self, *path: str) -> Any:
        node: Any = self.data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def instance(self, name: str) -> InstanceType | None:
        return self.instances().get(name)

    def instances(self) -> dict[str, InstanceType]:
        cached = getattr(self, "_instances", None)
        if cached is None:
            cached = {
                name: InstanceType(name, Decimal(spec["hourly"]), Decimal(str(spec["vcpu"])), Decimal(str(spec["memoryGiB"])), Decimal(str(spec["gpus"])))
                for name, spec in ((self.section("ec2", "instances") or {}).items())
            }
            self._instances = cached
        return cached


def catalogue_path(region: str, directory: Path | None = None) -> Path:
    return (directory or CATALOGUE_DIR) / f"{region}.json"


def available_regions(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or CATALOGUE_DIR).glob("*.json"))


def validate_catalogue(document: Any, shown: str) -> None:
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(CATALOGUE_SCHEMA).iter_errors(document))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or None
        raise UserError(shown, f"not a price catalogue: {error.message}", key=key)


def read_catalogue_file(path: Path) -> Catalogue:
    shown = str(path)
    document = read_json(path, shown)
    validate_catalogue(document, shown)
    return Catalogue(region=document["region"], currency=document["currency"], as_of=document["asOf"], source=document["source"], data=document, path=shown)


def load_catalogue(region: str, directory: Path | None = None) -> Catalogue:
    """The shipped catalogue of `region`; an empty one (every price not found) if none ships."""
    path = catalogue_path(region, directory)
    if not path.exists():
        return Catalogue(region=region)
    return read_catalogue_file(path)


# --- refresh from the AWS Price List API -------------------------------------------------------

# Region prefix of a usage type ("USE1-", "USW2-", ...); us-east-1 often has none.
_USAGE_PREFIX = re.compile(r"^[A-Z]{2,4}\d-")


@dataclass(frozen=True)
class PriceSpec:
    """One catalogue entry: where it lives, which products hold it, how to scale the API's unit."""

    path: tuple[str, ...]
    service: str
    usage_type: str  # the usage type without its region prefix
    filters: tuple[tuple[str, str], ...] = ()
    scale: Decimal = Decimal(1)  # API unit -> catalogue unit (per request -> per 1k requests ...)
    tier: int = 0  # 0: first paid tier; n: the n-th tier of a tiered price


def _specs() -> list[PriceSpec]:
    storage = (("productFamily", "Storage"),)
    s3_classes = {
        "STANDARD": ("TimedStorage-ByteHrs", "Requests-Tier1", "Requests-Tier2"),
        "INTELLIGENT_TIERING": ("TimedStorage-INT-FA-ByteHrs", "Requests-INT-Tier1", "Requests-INT-Tier2"),
        "STANDARD_IA": ("TimedStorage-SIA-ByteHrs", "Requests-SIA-Tier1", "Requests-SIA-Tier2"),
        "ONEZONE_IA": ("TimedStorage-ZIA-ByteHrs", "Requests-ZIA-Tier1", "Requests-ZIA-Tier2"),
        "GLACIER_IR": ("TimedStorage-GIR-ByteHrs", "Requests-GIR-Tier1", "Requests-GIR-Tier2"),
        "GLACIER": ("TimedStorage-GlacierByteHrs", "Requests-GLACIER-Tier1", "Requests-GLACIER-Tier2"),
        "DEEP_ARCHIVE": ("TimedStorage-GDA-ByteHrs", "Requests-GDA-Tier1", "Requests-GDA-Tier2"),
    }
    specs = [
        PriceSpec(("eks", "clusterHour"), "AmazonEKS", "AmazonEKS-Hours:perCluster"),
        PriceSpec(("eks", "extendedSupportClusterHour"), "AmazonEKS", "AmazonEKS-Hours:extendedSupport"),
        PriceSpec(("vpc", "natGatewayHour"), "AmazonEC2", "NatGateway-Hours", (("productFamily", "NAT Gateway"),)),
        PriceSpec(("vpc", "natGatewayGb"), "AmazonEC2", "NatGateway-Bytes", (("productFamily", "NAT Gateway"),)),
        PriceSpec(("vpc", "publicIpv4Hour"), "AmazonVPC", "PublicIPv4:InUseAddress"),
        PriceSpec(("vpc", "interfaceEndpointAzHour"), "AmazonVPC", "VpcEndpoint-Hours"),
        PriceSpec(("vpc", "interfaceEndpointGb"), "AmazonVPC", "VpcEndpoint-Bytes"),
        PriceSpec(("ebs", "gp2", "gbMonth"), "AmazonEC2", "EBS:VolumeUsage.gp2", storage),
        PriceSpec(("ebs", "gp3", "gbMonth"), "AmazonEC2", "EBS:VolumeUsage.gp3", storage),
        PriceSpec(("ebs", "io1", "gbMonth"), "AmazonEC2", "EBS:VolumeUsage.piops", storage),
        PriceSpec(("ebs", "io2", "gbMonth"), "AmazonEC2", "EBS:VolumeUsage.io2", storage),
        PriceSpec(("ebs", "st1", "gbMonth"), "AmazonEC2", "EBS:VolumeUsage.st1", storage),
        PriceSpec(("ebs", "sc1", "gbMonth"), "AmazonEC2", "EBS:VolumeUsage.sc1", storage),
        PriceSpec(("ebs", "standard", "gbMonth"), "AmazonEC2", "EBS:VolumeUsage", storage),
        PriceSpec(("ebs", "gp3", "iopsMonth"), "AmazonEC2", "EBS:VolumeP-IOPS.gp3", (("productFamily", "System Operation"),)),
        PriceSpec(("ebs", "gp3", "throughputMBpsMonth"), "AmazonEC2", "EBS:VolumeP-Throughput.gp3", (("productFamily", "Provisioned Throughput"),)),
        PriceSpec(("ebs", "io1", "iopsMonth"), "AmazonEC2", "EBS:VolumeP-IOPS.piops", (("productFamily", "System Operation"),)),
        PriceSpec(("ebs", "io2", "iopsTiers", "0", "iopsMonth"), "AmazonEC2", "EBS:VolumeP-IOPS.io2", (("productFamily", "System Operation"),)),
        PriceSpec(("ebs", "io2", "iopsTiers", "1", "iopsMonth"), "AmazonEC2", "EBS:VolumeP-IOPS.io2.tier2", (("productFamily", "System Operation"),)),
        PriceSpec(("ebs", "io2", "iopsTiers", "2", "iopsMonth"), "AmazonEC2", "EBS:VolumeP-IOPS.io2.tier3", (("productFamily", "System Operation"),)),
        PriceSpec(("ecr", "storageGbMonth"), "AmazonECR", "TimedStorage-ByteHrs"),
        PriceSpec(("kms", "keyMonth"), "awskms", "KMS-Keys"),
        PriceSpec(("kms", "requestsPer10k"), "awskms", "KMS-Requests", scale=Decimal(10_000)),
        PriceSpec(("elb", "albHour"), "AWSELB", "LoadBalancerUsage", (("productFamily", "Load Balancer-Application"),)),
        PriceSpec(("elb", "albLcuHour"), "AWSELB", "LCUUsage", (("productFamily", "Load Balancer-Application"),)),
        PriceSpec(("elb", "nlbHour"), "AWSELB", "LoadBalancerUsage", (("productFamily", "Load Balancer-Network"),)),
        PriceSpec(("elb", "nlbLcuHour"), "AWSELB", "LCUUsage", (("productFamily", "Load Balancer-Network"),)),
        PriceSpec(("elb", "clbHour"), "AWSELB", "LoadBalancerUsage", (("productFamily", "Load Balancer"),)),
        PriceSpec(("elb", "clbGb"), "AWSELB", "DataProcessing-Bytes", (("productFamily", "Load Balancer"),)),
        PriceSpec(("cloudwatch", "logsIngestGb"), "AmazonCloudWatch", "DataProcessing-Bytes"),
        PriceSpec(("cloudwatch", "logsStorageGbMonth"), "AmazonCloudWatch", "TimedStorage-ByteHrs"),
        PriceSpec(("cloudwatch", "logsScannedGb"), "AmazonCloudWatch", "DataScanned-Bytes"),
        PriceSpec(("cloudwatch", "alarmMonth"), "AmazonCloudWatch", "CW:AlarmMonitorUsage"),
        PriceSpec(("sqs", "standardPerMillion"), "AWSQueueService", "Requests-RBP", scale=Decimal(1_000_000)),
        PriceSpec(("sqs", "fifoPerMillion"), "AWSQueueService", "Requests-FIFO-RBP", scale=Decimal(1_000_000)),
        PriceSpec(("lambda", "requestsPerMillion"), "AWSLambda", "Request", scale=Decimal(1_000_000)),
        PriceSpec(("lambda", "gbSecond"), "AWSLambda", "Lambda-GB-Second"),
        PriceSpec(("secretsmanager", "secretMonth"), "AWSSecretsManager", "AWSSecretsManager-Secrets"),
        PriceSpec(("secretsmanager", "requestsPer10k"), "AWSSecretsManager", "AWSSecretsManager-APIRequest", scale=Decimal(10_000)),
        PriceSpec(("sagemaker", "serverlessGbSecond"), "AmazonSageMaker", "ServerlessInf:Mem-1GB"),
        PriceSpec(("sagemaker", "serverlessDataGb"), "AmazonSageMaker", "ServerlessInf:Data-Bytes-In"),
    ]
    for storage_class, (stored, tier1, tier2) in s3_classes.items():
        specs.append(PriceSpec(("s3", storage_class, "gbMonth"), "AmazonS3", stored, storage))
        specs.append(PriceSpec(("s3", storage_class, "tier1Per1k"), "AmazonS3", tier1, (("productFamily", "API Request"),), scale=Decimal(1000)))
        specs.append(PriceSpec(("s3", storage_class, "tier2Per1k"), "AmazonS3", tier2, (("productFamily", "API Request"),), scale=Decimal(1000)))
    return specs


PRICE_SPECS = _specs()


def _usage_type(product: dict) -> str:
    return _USAGE_PREFIX.sub("", product.get("product", {}).get("attributes", {}).get("usagetype", ""))


def _on_demand_dimensions(product: dict) -> list[dict]:
    dimensions = []
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        dimensions.extend((term.get("priceDimensions") or {}).values())
    return sorted(dimensions, key=lambda d: Decimal(d.get("beginRange") or "0"))


def _dimension_price(product: dict, tier: int = 0) -> Decimal | None:
    """The USD price of a product's on-demand term: the first tier with a price above zero (free
    tiers are account-wide allowances, not list prices), or the requested tier."""
    priced = [Decimal(d["pricePerUnit"]["USD"]) for d in _on_demand_dimensions(product) if "USD" in (d.get("pricePerUnit") or {})]
    paid = [p for p in priced if p > 0]
    if tier:
        return priced[tier] if tier < len(priced) else None
    return paid[0] if paid else (priced[0] if priced else None)


def _products(client, service: str, filters: dict[str, str]) -> Iterable[dict]:
    paginator = client.get_paginator("get_products")
    request = {
        "ServiceCode": service,
        "FormatVersion": "aws_v1",
        "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
    }
    for page in paginator.paginate(**request):
        for item in page.get("PriceList", []):
            yield json.loads(item) if isinstance(item, str) else item


def _number(text: str) -> Decimal | None:
    match = re.search(r"[\d.,]+", text or "")
    return Decimal(match.group(0).replace(",", "")) if match else None


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
        found = False
        for product in _products(client, "AmazonEC2", filters):
            price = _dimension_price(product)
            if price is None:
                continue
            attributes = product["product"]["attributes"]
            spec["hourly"] = _plain(price)
            spec["vcpu"] = int(_number(attributes.get("vcpu", "")) or spec["vcpu"])
            spec["memoryGiB"] = float(_number(attributes.get("memory", "")) or spec["memoryGiB"])
            spec["gpus"] = int(_number(attributes.get("gpu", "")) or 0)
            found = True
            break
        if not found:
            missing.append(f"ec2.instances.{name}")

    hosting = (document.get("sagemaker") or {}).get("hostingInstances") or {}
    for name in list(hosting):
        prices = [_dimension_price(p) for p in _products(client, "AmazonSageMaker", {"regionCode": region, "instanceName": name})
                  if _usage_type(p) == f"Host:{name}"]
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
        by_usage: dict[str, dict] = {}
        for product in _products(client, service, {"regionCode": region, **dict(filters)}):
            by_usage.setdefault(_usage_type(product), product)
        for spec in members:
            product = by_usage.get(spec.usage_type)
            price = _dimension_price(product, spec.tier) if product else None
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
    import boto3
    from botocore.config import Config

    # The Price List API throttles hard; adaptive retries back off instead of failing the refresh.
    return boto3.client("pricing", region_name=PRICING_API_REGION, config=Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10, read_timeout=60))


def _refresh(args: argparse.Namespace) -> int:
    target = catalogue_path(args.region, Path(args.dir) if args.dir else None)
    template_path = target if target.exists() else catalogue_path("us-east-1")
    template = read_catalogue_file(template_path).data
    document = refresh_catalogue(args.region, pricing_client(), template)
    validate_catalogue(document, str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=1) + "\n")
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
    refresh.set_defaults(handler=_refresh)
    show = actions.add_parser("list", help="list the shipped catalogues and their dates")
    show.set_defaults(handler=_show)
