"""The price catalogue: dated on-demand list prices per region, shipped in mlp/data/prices/.

`mlp cost` reads prices only from here, so an estimate never needs the network and two runs on
the same catalogue agree. `mlp prices refresh --region R` regenerates a region's catalogue from
the AWS Price List API (boto3 `pricing.get_products`); entries the API does not answer keep
their previous value and are listed under `notRefreshed`, so a partial refresh is visible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

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


# --- what `mlp prices refresh` (mlp/prices_refresh.py) asks the AWS Price List API -------------


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
