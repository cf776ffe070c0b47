"""Networking on the bill: NAT gateways, public IPv4 addresses, interface endpoints, and load
balancers, whether declared or created by the AWS Load Balancer Controller from an Ingress or
a Service."""

from __future__ import annotations

from mlp.cost.core import HOURS, NUMBER, CostComponent, annotations, is_alb_ingress, pricer, to_decimal


@pricer("aws:ec2/natGateway:NatGateway", monthly_hrs=HOURS, monthly_data_processed_gb=NUMBER)
def _nat_gateway(resource, usage, ctx):
    return [
        CostComponent("NAT gateway", "hours", ctx.catalogue.price("vpc", "natGatewayHour"), ctx.hours(usage)),
        CostComponent("Data processed", "GB", ctx.catalogue.price("vpc", "natGatewayGb"), to_decimal(usage.get("monthly_data_processed_gb")), usage_based=True),
    ]


@pricer("aws:ec2/eip:Eip", monthly_hrs=HOURS)
def _elastic_ip(resource, usage, ctx):
    # AWS charges every public IPv4 address by the hour, attached or not (since February 2024).
    return [CostComponent("Public IPv4 address", "hours", ctx.catalogue.price("vpc", "publicIpv4Hour"), ctx.hours(usage))]


@pricer("aws:ec2/vpcEndpoint:VpcEndpoint", monthly_hrs=HOURS, monthly_data_processed_gb=NUMBER)
def _vpc_endpoint(resource, usage, ctx):
    endpoint_type = str(resource.inputs.get("vpcEndpointType") or "Gateway")
    if endpoint_type == "Gateway":
        return []  # S3 and DynamoDB gateway endpoints are free
    zones = len(resource.inputs.get("subnetIds") or []) or 1
    return [
        CostComponent(f"{endpoint_type} endpoint ({zones} AZ)", "hours", ctx.catalogue.price("vpc", "interfaceEndpointAzHour"), ctx.hours(usage) * zones),
        CostComponent("Data processed", "GB", ctx.catalogue.price("vpc", "interfaceEndpointGb"), to_decimal(usage.get("monthly_data_processed_gb")), usage_based=True),
    ]


@pricer("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer", monthly_hrs=HOURS, capacity_units=NUMBER, monthly_data_processed_gb=NUMBER)
def _load_balancer(resource, usage, ctx):
    kind = str(resource.inputs.get("loadBalancerType") or "application")
    hours = ctx.hours(usage)
    price = ctx.catalogue.price
    if kind == "application":
        return [CostComponent("Application load balancer", "hours", price("elb", "albHour"), hours),
                CostComponent("Load balancer capacity units", "LCU-hours", price("elb", "albLcuHour"), to_decimal(usage.get("capacity_units")) * hours, usage_based=True)]
    if kind == "network":
        return [CostComponent("Network load balancer", "hours", price("elb", "nlbHour"), hours),
                CostComponent("Network load balancer capacity units", "NLCU-hours", price("elb", "nlbLcuHour"), to_decimal(usage.get("capacity_units")) * hours, usage_based=True)]
    return [CostComponent(f"{kind.title()} load balancer", "hours", None, hours)]


_ALB_USAGE = {"monthly_hrs": HOURS, "capacity_units": NUMBER}


@pricer("kubernetes:networking.k8s.io/v1:Ingress", **_ALB_USAGE)
def _ingress(resource, usage, ctx):
    """The AWS Load Balancer Controller turns an `alb` Ingress into an ALB that Pulumi never
    sees: priced here so the estimate includes it (once per ingress group)."""
    if not is_alb_ingress(resource):
        return []
    group = annotations(resource).get("alb.ingress.kubernetes.io/group.name")
    if group and ctx.alb_group_owner.get(str(group)) != resource.urn:
        return []
    hours = ctx.hours(usage)
    label = f"Application load balancer (ingress group {group})" if group else "Application load balancer (from this ingress)"
    return [CostComponent(label, "hours", ctx.catalogue.price("elb", "albHour"), hours),
            CostComponent("Load balancer capacity units", "LCU-hours", ctx.catalogue.price("elb", "albLcuHour"), to_decimal(usage.get("capacity_units")) * hours, usage_based=True)]


@pricer("kubernetes:core/v1:Service", **_ALB_USAGE, monthly_data_processed_gb=NUMBER)
def _service(resource, usage, ctx):
    """A `LoadBalancer` Service gets an NLB from the AWS Load Balancer Controller (annotation
    `service.beta.kubernetes.io/aws-load-balancer-type: external|nlb`), else a Classic one."""
    if (resource.inputs.get("spec") or {}).get("type") != "LoadBalancer":
        return []
    hours = ctx.hours(usage)
    price = ctx.catalogue.price
    if annotations(resource).get("service.beta.kubernetes.io/aws-load-balancer-type") in ("external", "nlb", "nlb-ip"):
        return [CostComponent("Network load balancer (from this service)", "hours", price("elb", "nlbHour"), hours),
                CostComponent("Network load balancer capacity units", "NLCU-hours", price("elb", "nlbLcuHour"), to_decimal(usage.get("capacity_units")) * hours, usage_based=True)]
    return [CostComponent("Classic load balancer (from this service)", "hours", price("elb", "clbHour"), hours),
            CostComponent("Data processed", "GB", price("elb", "clbGb"), to_decimal(usage.get("monthly_data_processed_gb")), usage_based=True)]
