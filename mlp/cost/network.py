"""Networking on the bill: NAT gateways, public IPv4 addresses, interface endpoints (data processed
in volume tiers), data transfer (internet egress in tiers, cross-AZ both ways, as usage on the
VPC), and load balancers, whether declared or made by the AWS Load Balancer Controller from an
Ingress, a Service or a chart's values."""

from __future__ import annotations

from mlp.cost.context import PricingContext, annotations, is_alb_ingress
from mlp.cost.core import HOURS, NUMBER, CostComponent, pricer, to_decimal
from mlp.cost.tiers import first_tier_price

ENDPOINT_TIERS = ("vpc", "interfaceEndpointGbTiers")
EGRESS_TIERS = ("dataTransfer", "internetOutGbTiers")
# Defaults as AWS and the provider apply them: CreateVpcEndpoint's VpcEndpointType is Gateway,
# aws.lb.LoadBalancer's loadBalancerType is application.
VPC_ENDPOINT_DEFAULT_TYPE = "Gateway"
LOAD_BALANCER_DEFAULT_TYPE = "application"
NLB_SERVICE_TYPES = ("external", "nlb", "nlb-ip")
NLB_CLASS = "service.k8s.aws/nlb"


@pricer("aws:ec2/natGateway:NatGateway", monthly_hrs=HOURS, monthly_data_processed_gb=NUMBER)
def _nat_gateway(resource, usage, ctx):
    return [
        CostComponent("NAT gateway", "hours", ctx.price("vpc", "natGatewayHour"), ctx.hours(usage)),
        CostComponent("Data processed", "GB", ctx.price("vpc", "natGatewayGb"), to_decimal(usage.get("monthly_data_processed_gb")), usage_key="monthly_data_processed_gb"),
    ]


@pricer("aws:ec2/eip:Eip", monthly_hrs=HOURS)
def _elastic_ip(resource, usage, ctx):
    # AWS charges every public IPv4 address by the hour, attached or not (since February 2024).
    return [CostComponent("Public IPv4 address", "hours", ctx.price("vpc", "publicIpv4Hour"), ctx.hours(usage))]


@pricer("aws:ec2/vpcEndpoint:VpcEndpoint", monthly_hrs=HOURS, monthly_data_processed_gb=NUMBER)
def _vpc_endpoint(resource, usage, ctx):
    endpoint_type = str(resource.inputs.get("vpcEndpointType") or VPC_ENDPOINT_DEFAULT_TYPE)
    if endpoint_type == "Gateway":
        return []  # S3 and DynamoDB gateway endpoints are free
    zones = len(resource.inputs.get("subnetIds") or []) or 1
    tiered = ctx.catalogue.section(*ENDPOINT_TIERS) is not None
    return [
        CostComponent(f"{endpoint_type} endpoint ({zones} AZ)", "hours", ctx.price("vpc", "interfaceEndpointAzHour"), ctx.hours(usage) * zones),
        CostComponent("Data processed", "GB", first_tier_price(ctx.catalogue, ENDPOINT_TIERS) if tiered else ctx.price("vpc", "interfaceEndpointGb"),
                      to_decimal(usage.get("monthly_data_processed_gb")), usage_key="monthly_data_processed_gb", tier=ENDPOINT_TIERS if tiered else None),
    ]


@pricer("aws:ec2/vpc:Vpc", monthly_internet_egress_gb=NUMBER, monthly_cross_az_gb=NUMBER)
def _vpc(resource, usage, ctx):
    """Data transfer of everything in the VPC, as usage: to the internet (through NAT, load
    balancers or public addresses; volume tiers over the stack's total) and between its zones
    (billed once out of one zone and once into the other). The VPC itself is free."""
    components = []
    if usage.get("monthly_internet_egress_gb") is not None:
        components.append(CostComponent("Data transfer out to the internet", "GB", first_tier_price(ctx.catalogue, EGRESS_TIERS),
                                        to_decimal(usage["monthly_internet_egress_gb"]), usage_key="monthly_internet_egress_gb", tier=EGRESS_TIERS))
    if usage.get("monthly_cross_az_gb") is not None:
        components.append(CostComponent("Data transfer between availability zones (out and in)", "GB", ctx.price("dataTransfer", "interAzGbEachWay"),
                                        2 * to_decimal(usage["monthly_cross_az_gb"]), usage_key="monthly_cross_az_gb"))
    return components


def alb_components(ctx: PricingContext, label: str, usage: dict) -> list[CostComponent]:
    hours = ctx.hours(usage)
    return [CostComponent(label, "hours", ctx.price("elb", "albHour"), hours),
            CostComponent("Load balancer capacity units", "LCU-hours", ctx.price("elb", "albLcuHour"), to_decimal(usage.get("capacity_units")) * hours,
                          usage_key="capacity_units")]


def nlb_components(ctx: PricingContext, label: str, usage: dict) -> list[CostComponent]:
    hours = ctx.hours(usage)
    return [CostComponent(label, "hours", ctx.price("elb", "nlbHour"), hours),
            CostComponent("Network load balancer capacity units", "NLCU-hours", ctx.price("elb", "nlbLcuHour"), to_decimal(usage.get("capacity_units")) * hours,
                          usage_key="capacity_units")]


def clb_components(ctx: PricingContext, label: str, usage: dict) -> list[CostComponent]:
    return [CostComponent(label, "hours", ctx.price("elb", "clbHour"), ctx.hours(usage)),
            CostComponent("Data processed", "GB", ctx.price("elb", "clbGb"), to_decimal(usage.get("monthly_data_processed_gb")), usage_key="monthly_data_processed_gb")]


def service_load_balancer(ctx: PricingContext, notes: dict, spec: dict, usage: dict, source: str) -> list[CostComponent]:
    """What a `LoadBalancer` Service gets: an NLB from the AWS Load Balancer Controller (asked by
    annotation or class, or given by its service webhook, on by default), else a Classic one."""
    nlb = (notes.get("service.beta.kubernetes.io/aws-load-balancer-type") in NLB_SERVICE_TYPES or spec.get("loadBalancerClass") == NLB_CLASS
           or (ctx.services_get_nlb and not spec.get("loadBalancerClass")))
    if nlb:
        return nlb_components(ctx, f"Network load balancer ({source})", usage)
    return clb_components(ctx, f"Classic load balancer ({source})", usage)


@pricer("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer", monthly_hrs=HOURS, capacity_units=NUMBER, monthly_data_processed_gb=NUMBER)
def _load_balancer(resource, usage, ctx):
    kind = str(resource.inputs.get("loadBalancerType") or LOAD_BALANCER_DEFAULT_TYPE)
    if kind == "application":
        return alb_components(ctx, "Application load balancer", usage)
    if kind == "network":
        return nlb_components(ctx, "Network load balancer", usage)
    return [CostComponent(f"{kind.title()} load balancer", "hours", None, ctx.hours(usage))]


_ALB_USAGE = {"monthly_hrs": HOURS, "capacity_units": NUMBER}


def owns_alb(ctx: PricingContext, notes: dict, urn: str) -> tuple[bool, str | None]:
    """Whether this ingress carries its ALB's cost (the first of an ingress group does)."""
    group = notes.get("alb.ingress.kubernetes.io/group.name") if isinstance(notes, dict) else None
    return (not group or ctx.alb_group_owner.get(str(group)) == urn), (str(group) if group else None)


@pricer("kubernetes:networking.k8s.io/v1:Ingress", **_ALB_USAGE)
def _ingress(resource, usage, ctx):
    """The AWS Load Balancer Controller turns an `alb` Ingress into an ALB that Pulumi never
    sees: priced here so the estimate includes it (once per ingress group)."""
    if not is_alb_ingress(resource):
        return []
    owner, group = owns_alb(ctx, annotations(resource), resource.urn)
    if not owner:
        return []
    return alb_components(ctx, f"Application load balancer (ingress group {group})" if group else "Application load balancer (from this ingress)", usage)


@pricer("kubernetes:core/v1:Service", **_ALB_USAGE, monthly_data_processed_gb=NUMBER)
def _service(resource, usage, ctx):
    spec = resource.inputs.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return []
    return service_load_balancer(ctx, annotations(resource), spec, usage, "from this service")
