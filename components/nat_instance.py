"""A NAT instance: the private subnets' egress for stacks where an egress outage is acceptable.

One Graviton instance in the first public subnet forwards and masquerades what the private subnets
send to the internet, for a fraction of a NAT gateway's hourly price and without its per-GB
processing charge. What makes it more than a pet:
- its address lives on a dedicated network interface (source/destination check off, its own
  security group) that carries the Elastic IP and that the private route tables point at, so a
  replaced instance takes over the same interface, address and routes;
- the instance is launched from a launch template: AL2023 arm64 resolved from the public SSM
  parameter at launch, IMDSv2 only with hop limit 1, an encrypted gp3 root volume, cost tags on
  what it launches, standard CPU credits on burstable types (throttled, never billed extra);
- cloud-init makes forwarding and the masquerade rule permanent: a sysctl.d file and a systemd
  unit that loads the nftables rule at every boot;
- EC2 auto-recovery restarts it on another host when its host fails;
- no SSH key: engineers reach it through Session Manager (the instance role has only
  AmazonSSMManagedInstanceCore).

Egress stops while the instance is impaired, recovering or replaced (`pulumi up` replaces it
delete-first, since the interface is its device 0): `natGateways: instance` is for dev.
"""

from __future__ import annotations

import base64
import textwrap

import pulumi
import pulumi_aws as aws
import yaml

from components.facts import StackFacts
from components.iam import service_trust_policy
from components.tagging import CostTagging

COMPONENT = "network"
# The latest AL2023 arm64 AMI, resolved by EC2 when the instance launches (a launch template's
# image may be `resolve:ssm:<public parameter>`), so no AMI ID goes stale in the program.
AL2023_ARM64_AMI = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
ROOT_DEVICE_NAME = "/dev/xvda"  # root device of the AL2023 AMIs
ROOT_VOLUME_GIB = 8  # the AL2023 AMI's own root snapshot size: a NAT instance writes little beyond logs
SSM_MANAGED_INSTANCE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
# IMDSv2 only, hop limit 1: the same guarantee as every node the platform launches.
METADATA_OPTIONS = {"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1, "http_protocol_ipv6": "disabled"}
NAT_TABLE = "mlplatform_nat"
NAT_RULES_PATH = "/etc/mlplatform/nat.nft"
NAT_UNIT = "mlplatform-nat.service"
FORWARDING_SYSCTL_PATH = "/etc/sysctl.d/90-mlplatform-nat.conf"


def is_burstable(instance_type: str) -> bool:
    """T-family types earn CPU credits; only they accept a credit specification."""
    return instance_type.startswith("t")


def nat_rules(vpc_cidr: str) -> str:
    """The nftables ruleset: masquerade what the VPC sends outside the VPC. Adding (a no-op when it
    exists), deleting and redefining the table in one file makes loading it idempotent: nft applies
    a file atomically, so a reload replaces the rule and never duplicates it."""
    return textwrap.dedent(f"""\
        add table ip {NAT_TABLE}
        delete table ip {NAT_TABLE}
        table ip {NAT_TABLE} {{
          chain postrouting {{
            type nat hook postrouting priority 100; policy accept;
            ip saddr {vpc_cidr} ip daddr != {vpc_cidr} masquerade
          }}
        }}
        """)


def nat_unit() -> str:
    """A oneshot unit that (re)loads the masquerade rule at every boot; it needs only the `nft` binary."""
    return textwrap.dedent(f"""\
        [Unit]
        Description=Masquerade VPC traffic to the internet (mlplatform NAT instance)

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/usr/sbin/nft -f {NAT_RULES_PATH}

        [Install]
        WantedBy=multi-user.target
        """)


class _CloudConfigDumper(yaml.SafeDumper):
    """Writes multi-line file contents as literal blocks, as a person would read them on the instance."""


_CloudConfigDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def cloud_config(vpc_cidr: str) -> str:
    """cloud-init user data: install nftables, make forwarding and the masquerade rule permanent, start both."""
    document = {
        "packages": ["nftables"],
        "write_files": [
            {"path": FORWARDING_SYSCTL_PATH, "permissions": "0644", "content": "net.ipv4.ip_forward = 1\n"},
            {"path": NAT_RULES_PATH, "permissions": "0644", "content": nat_rules(vpc_cidr)},
            {"path": f"/etc/systemd/system/{NAT_UNIT}", "permissions": "0644", "content": nat_unit()},
        ],
        # runcmd runs once, after the packages are installed; sysctl.d and the enabled unit repeat it at every boot.
        "runcmd": [
            ["sysctl", "-p", FORWARDING_SYSCTL_PATH],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", NAT_UNIT],
        ],
    }
    return "#cloud-config\n" + yaml.dump(document, Dumper=_CloudConfigDumper, sort_keys=False, default_flow_style=False, width=1000)


class NatInstance(pulumi.ComponentResource):
    """One NAT instance in `subnet_id`, reached by the private route tables through `network_interface`."""

    def __init__(self, name: str, *, instance_type: str, vpc_id: pulumi.Input[str], vpc_cidr: str, subnet_id: pulumi.Input[str],
                 internet_gateway: aws.ec2.InternetGateway, facts: StackFacts, tagging: CostTagging,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlplatform:network:NatInstance", name, None, opts)
        prefix = facts.name_prefix
        child = pulumi.ResourceOptions(parent=self)

        def tags(name_tag: str) -> dict[str, str]:
            return {**tagging.resource_tags(COMPONENT), "Name": name_tag}

        self.security_group = aws.ec2.SecurityGroup(
            name,
            vpc_id=vpc_id,
            description="NAT instance: forwards what the VPC sends to the internet",
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=[vpc_cidr],
                                                      description="Traffic from the VPC to forward")],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"],
                                                    description="Forwarded traffic and the instance's own updates")],
            tags=tags(f"{prefix}-nat"),
            opts=child,
        )
        # The interface outlives any one instance: the routes, the address and the security group stay with it.
        self.network_interface = aws.ec2.NetworkInterface(
            f"{name}-interface",
            subnet_id=subnet_id,
            security_groups=[self.security_group.id],
            source_dest_check=False,  # it forwards packets addressed to others
            description="NAT instance: target of the private subnets' default route",
            tags=tags(f"{prefix}-nat"),
            opts=child,
        )
        # An Elastic IP needs the VPC's internet gateway attached before it can be associated.
        self.address = aws.ec2.Eip(
            f"{name}-address",
            domain="vpc",
            network_interface=self.network_interface.id,
            tags=tags(f"{prefix}-nat"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[internet_gateway]),
        )

        self.role = aws.iam.Role(
            name,
            name=f"{prefix}-nat",
            description="NAT instance: Session Manager access for debugging, nothing else",
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            tags=tags(f"{prefix}-nat"),
            opts=child,
        )
        ssm_access = aws.iam.RolePolicyAttachment(f"{name}-ssm", role=self.role.name, policy_arn=SSM_MANAGED_INSTANCE_POLICY, opts=child)
        profile = aws.iam.InstanceProfile(name, name=f"{prefix}-nat", role=self.role.name, tags=tags(f"{prefix}-nat"), opts=child)

        self.launch_template = aws.ec2.LaunchTemplate(
            name,
            name=f"{prefix}-nat",
            description="NAT instance: AL2023 arm64, IMDSv2 only with hop limit 1, encrypted gp3 root volume, cost tags on launch",
            image_id=AL2023_ARM64_AMI,
            instance_type=instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(**METADATA_OPTIONS),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE_NAME,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=ROOT_VOLUME_GIB, volume_type="gp3", encrypted="true", delete_on_termination="true"),
            )],
            credit_specification=(aws.ec2.LaunchTemplateCreditSpecificationArgs(cpu_credits="standard")
                                  if is_burstable(instance_type) else None),
            maintenance_options=aws.ec2.LaunchTemplateMaintenanceOptionsArgs(auto_recovery="default"),
            user_data=base64.b64encode(cloud_config(vpc_cidr).encode()).decode(),
            tag_specifications=tagging.launch_template_tag_specifications(COMPONENT, name=f"{prefix}-nat"),
            update_default_version=True,
            tags=tags(f"{prefix}-nat"),
            opts=child,
        )
        # The instance states its metadata options and root volume itself too (the same values), so
        # what it runs with is visible on the instance, where the policy pack checks it. The
        # interface is its device 0: a replacement must wait for the old instance to let go of it.
        self.instance = aws.ec2.Instance(
            name,
            launch_template=aws.ec2.InstanceLaunchTemplateArgs(id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)),
            primary_network_interface=aws.ec2.InstancePrimaryNetworkInterfaceArgs(network_interface_id=self.network_interface.id,
                                                                                delete_on_termination=False),
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(**METADATA_OPTIONS),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(volume_size=ROOT_VOLUME_GIB, volume_type="gp3", encrypted=True,
                                                                  delete_on_termination=True),
            maintenance_options=aws.ec2.InstanceMaintenanceOptionsArgs(auto_recovery="default"),
            tags=tags(f"{prefix}-nat"),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, depends_on=[ssm_access, self.address]),
        )

        self.network_interface_id = self.network_interface.id
        self.public_ip = self.address.public_ip
        self.register_outputs({
            "instanceId": self.instance.id,
            "networkInterfaceId": self.network_interface_id,
            "publicIp": self.public_ip,
        })
