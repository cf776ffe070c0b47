"""Network: a VPC over the configured AZs, public and private subnets, NAT, endpoints, flow logs.

Nodes live in private subnets. Their egress is, per stack, a NAT gateway in every AZ (survives an
AZ outage), a single NAT gateway, or a single NAT instance (components/nat_instance.py: a tenth of
the price, for stacks where an egress outage is acceptable). S3 (gateway) and ECR/STS (interface)
endpoints keep image pulls and data-lake reads off NAT, which AWS bills per GB; interface
endpoints are billed per AZ, so a stack may place them in fewer AZs than its subnets.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import NetworkConfig
from components.facts import StackFacts
from components.iam import account_id_of, policy_document, scoped_service_trust_policy
from components.interfaces import NetworkPlacement
from components.keys import encrypted_log_group
from components.nat_instance import NatInstance
from components.tagging import CostTagging

COMPONENT = "network"


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, settings: NetworkConfig, facts: StackFacts, tagging: CostTagging,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:network:Network", name, None, opts)
        prefix = facts.name_prefix
        child = pulumi.ResourceOptions(parent=self)

        def tags(name_tag: str, **extra: str) -> dict[str, str]:
            return {**tagging.resource_tags(COMPONENT), "Name": name_tag, **extra}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(settings.vpc_cidr),
            enable_dns_hostnames=True,  # interface endpoints with private DNS need both
            enable_dns_support=True,
            tags=tags(f"{prefix}-vpc"),
            opts=child,
        )

        internet_gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=tags(f"{prefix}-igw"), opts=child
        )

        # Subnet tags: load balancer placement for the AWS Load Balancer Controller, and the
        # discovery tag Karpenter's EC2NodeClass selects private subnets by.
        self.public_subnets = [
            aws.ec2.Subnet(
                f"{name}-public-{az}",
                vpc_id=self.vpc.id,
                availability_zone=az,
                cidr_block=str(block),
                map_public_ip_on_launch=False,
                tags=tags(f"{prefix}-public-{az}", **{"kubernetes.io/role/elb": "1"}),
                opts=child,
            )
            for az, block in zip(settings.availability_zones, settings.public_subnet_cidrs)
        ]
        self.private_subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{az}",
                vpc_id=self.vpc.id,
                availability_zone=az,
                cidr_block=str(block),
                tags=tags(
                    f"{prefix}-private-{az}",
                    **{
                        "kubernetes.io/role/internal-elb": "1",
                        f"kubernetes.io/cluster/{facts.cluster_name}": "shared",
                        "karpenter.sh/discovery": facts.cluster_name,
                    },
                ),
                opts=child,
            )
            for az, block in zip(settings.availability_zones, settings.private_subnet_cidrs)
        ]

        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=internet_gateway.id)],
            tags=tags(f"{prefix}-public"),
            opts=child,
        )
        for az, subnet in zip(settings.availability_zones, self.public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{az}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )

        self.nat_instance = None
        nat_by_az = {}
        if settings.nat_instance:
            self.nat_instance = NatInstance(
                f"{name}-nat-instance",
                instance_type=settings.nat_instance,
                vpc_id=self.vpc.id,
                vpc_cidr=str(settings.vpc_cidr),
                subnet_id=self.public_subnets[0].id,
                internet_gateway=internet_gateway,
                facts=facts,
                tagging=tagging,
                opts=child,
            )
        else:
            nat_azs = settings.availability_zones if settings.nat_gateways == "one-per-az" else settings.availability_zones[:1]
            for az, subnet in zip(nat_azs, self.public_subnets):
                address = aws.ec2.Eip(f"{name}-nat-{az}", domain="vpc", tags=tags(f"{prefix}-nat-{az}"), opts=child)
                nat_by_az[az] = aws.ec2.NatGateway(
                    f"{name}-nat-{az}",
                    allocation_id=address.id,
                    subnet_id=subnet.id,
                    tags=tags(f"{prefix}-nat-{az}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[internet_gateway]),
                )

        def default_route(az: str) -> aws.ec2.RouteTableRouteArgs:
            if self.nat_instance is not None:
                return aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", network_interface_id=self.nat_instance.network_interface_id)
            nat = nat_by_az.get(az, next(iter(nat_by_az.values())))
            return aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)

        self.private_route_tables = []
        for az, subnet in zip(settings.availability_zones, self.private_subnets):
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{az}",
                vpc_id=self.vpc.id,
                routes=[default_route(az)],
                tags=tags(f"{prefix}-private-{az}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{az}", subnet_id=subnet.id, route_table_id=route_table.id, opts=child
            )
            self.private_route_tables.append(route_table)

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{facts.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in self.private_route_tables],
            tags=tags(f"{prefix}-s3"),
            opts=child,
        )

        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to interface endpoints",
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443, cidr_blocks=[str(settings.vpc_cidr)], description="HTTPS from the VPC")],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=[str(settings.vpc_cidr)], description="Replies inside the VPC")],
            tags=tags(f"{prefix}-endpoints"),
            opts=child,
        )
        # Interface endpoints bill per AZ; the stack says in how many (the first N private subnets).
        endpoint_subnets = self.private_subnets[:len(settings.endpoint_zones)]
        for service in settings.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{facts.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in endpoint_subnets],
                security_group_ids=[self.endpoint_security_group.id],
                tags=tags(f"{prefix}-{service}"),
                opts=child,
            )

        # Flow logs say who reached what: where data is protected, they are kept with it.
        flow_log_group = encrypted_log_group(
            f"{name}-flow-logs",
            name=f"/{facts.project}/{facts.environment}/vpc-flow-logs",
            region=facts.region,
            retention_days=settings.flow_log_retention_days,
            alias=f"{prefix}-flow-logs",
            tags=tags(f"{prefix}-flow-logs"),
            opts=facts.keep(self),
        )
        account_id = account_id_of(self)
        flow_log_role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=account_id.apply(lambda account: scoped_service_trust_policy(
                "vpc-flow-logs.amazonaws.com", account, f"arn:aws:ec2:{facts.region}:{account}:vpc-flow-log/*")),
            tags=tags(f"{prefix}-flow-logs"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=flow_log_role.id,
            policy=flow_log_group.arn.apply(lambda arn: policy_document([{
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": f"{arn}:*",
            }])),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type=settings.flow_log_traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=flow_log_group.arn,
            iam_role_arn=flow_log_role.arn,
            max_aggregation_interval=60,
            tags=tags(f"{prefix}-flow-log"),
            opts=child,
        )

        self.vpc_id = self.vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in self.private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in self.public_subnets])
        self.placement = NetworkPlacement(
            vpc_id=self.vpc_id,
            private_subnet_ids=[subnet.id for subnet in self.private_subnets],
            vpc_cidr=str(settings.vpc_cidr),
        )
        self.register_outputs({
            "vpcId": self.vpc_id,
            "privateSubnetIds": self.private_subnet_ids,
            "publicSubnetIds": self.public_subnet_ids,
        })
