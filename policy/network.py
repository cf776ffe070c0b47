"""The network: every VPC logs its flows, no security group is open to the world, and no security
group is managed two ways at once."""

from __future__ import annotations

from policy.model import Resource, Rule, Stack, StackRule, as_list, of_types

VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
OPEN = ("0.0.0.0/0", "::/0")


def _flow_logs(stack: Stack) -> list[tuple[str, str]]:
    return [(vpc.urn, "no FlowLog records this VPC's traffic") for vpc in stack.of_type(VPC) if not stack.referencing(vpc, "vpcId", FLOW_LOG)]


def _open_ingress(resource: Resource) -> list[str]:
    props = resource.props
    if resource.type == SECURITY_GROUP:
        blocks = [block for rule in as_list(props.get("ingress")) for key in ("cidrBlocks", "ipv6CidrBlocks") for block in as_list(rule.get(key))]
    elif resource.type == INGRESS_RULE:
        blocks = [props.get("cidrIpv4"), props.get("cidrIpv6")]
    else:
        blocks = as_list(props.get("cidrBlocks")) + as_list(props.get("ipv6CidrBlocks")) if props.get("type") == "ingress" else []
    return [f"ingress is open to {block}" for block in blocks if block in OPEN]


def _rule_conflicts(stack: Stack) -> list[tuple[str, str]]:
    found = []
    for rule in stack.of_type(INGRESS_RULE, EGRESS_RULE, SECURITY_GROUP_RULE):
        direction = {INGRESS_RULE: "ingress", EGRESS_RULE: "egress"}.get(rule.type, rule.props.get("type"))
        for group in stack.referenced(rule, "securityGroupId", SECURITY_GROUP):
            if as_list(group.props.get(direction)):
                found.append((rule.urn, f"{rule.type.rsplit(':', 1)[1]} defines rules for SecurityGroup {group.urn} which has inline '{direction}' rules"))
    return found


RULES = (
    Rule("security-groups-no-open-ingress", "No security group admits the whole internet.",
         of_types(SECURITY_GROUP, INGRESS_RULE, SECURITY_GROUP_RULE), _open_ingress),
)

STACK_RULES = (
    StackRule("vpc-flow-logs-enabled", "Every VPC records its traffic in flow logs.", _flow_logs),
    StackRule("security-group-no-rule-management-conflicts",
              "Security groups with inline rules get no separately managed rules in the same direction.",
              _rule_conflicts, source="security-group-no-rule-management-conflicts"),
)
