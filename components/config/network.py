"""Network settings: the VPC, its subnets per availability zone, NAT and VPC endpoints."""

from __future__ import annotations

import ipaddress
from typing import Optional

from pydantic import Field, field_validator, model_validator

from components.config.base import Cidr, Int, LogRetention, Section, Unique, matching, one_of, section
from components.config.errors import Invalid
from components.config.nodepools import InstanceType, is_graviton

# The smallest Graviton instance: a NAT instance forwards packets in the kernel, and AL2023 arm64
# boots in its 0.5 GiB.
DEFAULT_NAT_INSTANCE_TYPE = "t4g.nano"

AvailabilityZone = matching(r"[a-z]{2}(-gov)?-[a-z]+-\d[a-z]", "an availability zone like us-east-1a")
ServiceEndpoint = matching(r"[a-z0-9.-]+", "an AWS service endpoint suffix like ecr.api")


@section
class NetworkConfig(Section):
    """The VPC: 2-3 availability zones, one public and one private subnet in each."""

    vpc_cidr: Cidr = Field(description="Private (RFC 1918) address range of the VPC, a /16 to /24.")
    availability_zones: Unique[AvailabilityZone] = Field(
        description="Availability zones of the stack's region the subnets are spread over.",
        json_schema_extra={"minItems": 2, "maxItems": 3},
    )
    public_subnet_cidrs: Unique[Cidr] = Field(description="One public subnet (load balancers, NAT) per availability zone, in the same order.")
    private_subnet_cidrs: Unique[Cidr] = Field(description="One private subnet (nodes, endpoints) per availability zone, in the same order.")
    nat_gateways: one_of("single", "one-per-az", "instance") = Field(
        description="How private subnets reach the internet. `one-per-az`: a NAT gateway in every AZ, survives an AZ outage. "
                    "`single`: one NAT gateway, an outage of its AZ cuts every AZ's egress. `instance`: one NAT instance "
                    "(Graviton, `natInstanceType`) instead of a gateway, for stacks where an egress outage is acceptable: about "
                    "a tenth of the gateway's hourly price and no per-GB processing charge, but egress stops while the instance "
                    "is impaired or replaced (EC2 auto-recovery restarts it on a host failure), its AZ is a single point of "
                    "failure, and its bandwidth is the instance type's (burstable types have a low baseline).",
    )
    nat_instance_type: Optional[InstanceType] = Field(
        default=None,
        description=f"Graviton (arm64) instance type of the NAT instance; only with `natGateways: instance` (default {DEFAULT_NAT_INSTANCE_TYPE}). "
                    "Burstable types run with standard CPU credits, so a busy month is throttled, never billed extra.",
    )
    interface_endpoints: Unique[ServiceEndpoint] = Field(
        default=("ecr.api", "ecr.dkr", "sts"),
        description="Interface VPC endpoints, so image pulls and token calls skip NAT charges (S3 always gets a gateway endpoint).",
    )
    interface_endpoint_zones: Optional[Int] = Field(
        default=None,
        json_schema_extra={"minimum": 1, "maximum": 3},  # and at most the stack's availabilityZones
        description="In how many AZs (the first N private subnets) each interface endpoint gets a network interface, each billed by "
                    "the hour (default: all of the stack's AZs). With fewer, the endpoints' private DNS names resolve to the "
                    "interfaces that exist, so nodes in the other AZs reach them across AZs and pay cross-AZ data transfer both "
                    "ways; and while the AZs holding them are down (the one AZ, with 1), calls to those services (ECR image pulls, "
                    "STS tokens) fail from every AZ: private DNS answers for the whole VPC, so nothing falls back to the public "
                    "endpoints through NAT.",
    )
    flow_log_retention_days: LogRetention = Field(description="Days VPC flow logs are kept in CloudWatch Logs.")
    flow_log_traffic_type: one_of("ALL", "ACCEPT", "REJECT") = Field(default="ALL", description="Which traffic the flow logs record.")

    @field_validator("vpc_cidr")
    @classmethod
    def _private_and_sized(cls, vpc_cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= vpc_cidr.prefixlen <= 24:
            raise Invalid(f"expected a prefix between /16 and /24, got /{vpc_cidr.prefixlen}")
        if not vpc_cidr.is_private:
            raise Invalid(f"expected a private (RFC 1918) range, got {vpc_cidr}")
        return vpc_cidr

    @field_validator("availability_zones")
    @classmethod
    def _two_or_three(cls, zones: tuple[str, ...]) -> tuple[str, ...]:
        if not 2 <= len(zones) <= 3:
            raise Invalid(f"expected 2 or 3 availability zones, got {len(zones)}")
        return zones

    @model_validator(mode="after")
    def _nat_and_endpoint_zones(self) -> "NetworkConfig":
        if self.nat_instance_type is not None:
            if self.nat_gateways != "instance":
                raise Invalid(f"only applies with natGateways: instance, not {self.nat_gateways}", "natInstanceType")
            if not is_graviton(self.nat_instance_type):
                raise Invalid(f"expected a Graviton (arm64) instance type like {DEFAULT_NAT_INSTANCE_TYPE}: the NAT instance runs "
                              f"the arm64 AL2023 AMI, got {self.nat_instance_type!r}", "natInstanceType")
        zones = len(self.availability_zones)
        if self.interface_endpoint_zones is not None and not 1 <= self.interface_endpoint_zones <= zones:
            raise Invalid(f"expected 1 to {zones} (the stack's availability zones), got {self.interface_endpoint_zones}", "interfaceEndpointZones")
        return self

    @property
    def nat_instance(self) -> Optional[str]:
        """The NAT instance's type, or None where NAT gateways give egress."""
        return (self.nat_instance_type or DEFAULT_NAT_INSTANCE_TYPE) if self.nat_gateways == "instance" else None

    @property
    def endpoint_zones(self) -> tuple[str, ...]:
        """The AZs whose private subnets hold the interface endpoints' network interfaces."""
        return self.availability_zones[: self.interface_endpoint_zones or len(self.availability_zones)]

    @model_validator(mode="after")
    def _subnets_fit(self) -> "NetworkConfig":
        seen: list[tuple[str, int, ipaddress.IPv4Network]] = []
        for name, blocks in (("publicSubnetCidrs", self.public_subnet_cidrs), ("privateSubnetCidrs", self.private_subnet_cidrs)):
            if len(blocks) != len(self.availability_zones):
                raise Invalid(f"expected one CIDR per availability zone ({len(self.availability_zones)}), got {len(blocks)}", name)
            for i, block in enumerate(blocks):
                if not block.subnet_of(self.vpc_cidr):
                    raise Invalid(f"{block} is outside vpcCidr {self.vpc_cidr}", name, i)
            for i, block in enumerate(blocks):
                for other_name, other_index, other in seen:
                    if block.overlaps(other):
                        raise Invalid(f"{block} overlaps {other} ({other_name}[{other_index}])", name, i)
                seen.append((name, i, block))
        return self
