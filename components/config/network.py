"""Network settings: the VPC, its subnets per availability zone, NAT and VPC endpoints."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator

from components.config.base import Cidr, LogRetention, Section, Unique, matching, one_of, section
from components.config.errors import Invalid

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
    nat_gateways: one_of("single", "one-per-az") = Field(
        description="`single` saves cost (an AZ outage cuts egress); `one-per-az` survives one.",
    )
    interface_endpoints: Unique[ServiceEndpoint] = Field(
        default=("ecr.api", "ecr.dkr", "sts"),
        description="Interface VPC endpoints, so image pulls and token calls skip NAT charges (S3 always gets a gateway endpoint).",
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
