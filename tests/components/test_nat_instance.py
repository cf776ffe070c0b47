"""The NAT instance (dev's `natGateways: instance`): interface, address, launch template, boot
configuration, instance and its role, as the dev plan records them; and the options the plan does
not record (delete-first replacement), under mocks of its own."""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

from components.facts import StackFacts
from components.nat_instance import (
    AL2023_ARM64_AMI,
    FORWARDING_SYSCTL_PATH,
    NAT_RULES_PATH,
    NAT_UNIT,
    SSM_MANAGED_INSTANCE_POLICY,
    NatInstance,
    cloud_config,
    nat_rules,
)
from components.tagging import REQUIRED_TAG_KEYS, CostTagging
from tests.conftest import planned

IMDSV2_HOP_LIMIT_1 = {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1.0, "httpProtocolIpv6": "disabled"}


def _one(run, type_token):
    (found,) = run.by_type(type_token)
    return found


def _nat_instance_parts(run):
    interface = _one(run, "aws:ec2/networkInterface:NetworkInterface")
    group = next(g for g in run.by_type("aws:ec2/securityGroup:SecurityGroup") if g.id in interface.inputs["securityGroups"])
    template = next(t for t in run.by_type("aws:ec2/launchTemplate:LaunchTemplate") if t.inputs["name"].endswith("-nat"))
    return interface, group, template, _one(run, "aws:ec2/instance:Instance")


def test_the_interface_sits_in_the_first_public_subnet_forwards_and_admits_only_the_vpc():
    plan = planned("dev")
    network = plan.config.network
    interface, group, _, _ = _nat_instance_parts(plan.run)
    first_public = next(s for s in plan.run.by_type("aws:ec2/subnet:Subnet")
                        if s.inputs["cidrBlock"] == str(network.public_subnet_cidrs[0]))
    assert interface.inputs["subnetId"] == first_public.id
    assert interface.inputs["sourceDestCheck"] is False
    assert [(rule["protocol"], rule["cidrBlocks"]) for rule in group.inputs["ingress"]] == [("-1", [str(network.vpc_cidr)])]
    assert [(rule["protocol"], rule["cidrBlocks"]) for rule in group.inputs["egress"]] == [("-1", ["0.0.0.0/0"])]


def test_the_elastic_ip_belongs_to_the_interface_so_it_survives_the_instance():
    run = planned("dev").run
    interface, _, _, instance = _nat_instance_parts(run)
    address = _one(run, "aws:ec2/eip:Eip")
    assert address.inputs == {**address.inputs, "domain": "vpc", "networkInterface": interface.id}
    assert "instance" not in address.inputs
    internet_gateway = _one(run, "aws:ec2/internetGateway:InternetGateway")
    assert internet_gateway.urn in address.dependencies  # association needs the gateway attached
    assert instance.inputs["primaryNetworkInterface"] == {"networkInterfaceId": interface.id, "deleteOnTermination": False}


def test_the_launch_template_pins_the_arm64_ami_parameter_imdsv2_an_encrypted_root_and_standard_credits():
    plan = planned("dev")
    _, _, template, _ = _nat_instance_parts(plan.run)
    inputs = template.inputs
    assert inputs["imageId"] == AL2023_ARM64_AMI == "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    assert inputs["instanceType"] == plan.config.network.nat_instance == "t4g.nano"
    assert inputs["metadataOptions"] == IMDSV2_HOP_LIMIT_1
    (root,) = inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {"volumeSize": 8.0, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}
    assert inputs["creditSpecification"] == {"cpuCredits": "standard"}
    assert inputs["maintenanceOptions"] == {"autoRecovery": "default"}
    assert "keyName" not in inputs and "networkInterfaces" not in inputs


def test_what_the_template_launches_carries_all_six_cost_tags():
    plan = planned("dev")
    _, _, template, _ = _nat_instance_parts(plan.run)
    by_kind = {spec["resourceType"]: spec["tags"] for spec in template.inputs["tagSpecifications"]}
    assert set(by_kind) == {"instance", "volume", "network-interface"}
    for tags in by_kind.values():
        assert all(tags.get(key) for key in REQUIRED_TAG_KEYS)
        assert tags["Component"] == "network" and tags["Environment"] == "dev" and tags["Name"] == f"{plan.config.name_prefix}-nat"


def test_the_instance_launches_from_the_template_with_auto_recovery_and_states_imdsv2_and_its_root_volume():
    run = planned("dev").run
    _, _, template, instance = _nat_instance_parts(run)
    inputs = instance.inputs
    assert inputs["launchTemplate"] == {"id": template.id, "version": "1"}
    assert inputs["maintenanceOptions"] == {"autoRecovery": "default"}
    assert inputs["metadataOptions"] == IMDSV2_HOP_LIMIT_1
    assert inputs["rootBlockDevice"] == {"volumeSize": 8.0, "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}
    # Everything else comes from the template or the interface: nothing to drift apart.
    assert not {"ami", "instanceType", "subnetId", "vpcSecurityGroupIds", "keyName", "associatePublicIpAddress", "userData"} & set(inputs)


def test_the_user_data_makes_forwarding_and_the_masquerade_rule_survive_reboots():
    plan = planned("dev")
    _, _, template, _ = _nat_instance_parts(plan.run)
    text = base64.b64decode(template.inputs["userData"]).decode()
    assert text.startswith("#cloud-config\n")
    document = yaml.safe_load(text)
    files = {item["path"]: item["content"] for item in document["write_files"]}
    assert document["packages"] == ["nftables"]  # AL2023 ships nftables, not iptables-services
    assert files[FORWARDING_SYSCTL_PATH] == "net.ipv4.ip_forward = 1\n"  # sysctl.d: applied at every boot
    cidr = str(plan.config.network.vpc_cidr)
    assert files[NAT_RULES_PATH] == nat_rules(cidr)
    assert f"ip saddr {cidr} ip daddr != {cidr} masquerade" in files[NAT_RULES_PATH]
    assert "type nat hook postrouting" in files[NAT_RULES_PATH]
    unit = files[f"/etc/systemd/system/{NAT_UNIT}"]
    assert f"ExecStart=/usr/sbin/nft -f {NAT_RULES_PATH}" in unit and "WantedBy=multi-user.target" in unit
    assert ["systemctl", "enable", "--now", NAT_UNIT] in document["runcmd"]


def test_reloading_the_rules_replaces_the_table_rather_than_adding_a_second_rule():
    lines = nat_rules("10.40.0.0/16").splitlines()
    # nft applies a file atomically: add (no-op if present), delete, define.
    assert lines[:3] == ["add table ip mlplatform_nat", "delete table ip mlplatform_nat", "table ip mlplatform_nat {"]
    assert sum("masquerade" in line for line in lines) == 1


def test_the_role_allows_session_manager_and_nothing_else():
    run = planned("dev").run
    roles = [r for r in run.by_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-nat")]
    (role,) = roles
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"} and statement["Action"] == "sts:AssumeRole"
    attached = [a.inputs["policyArn"] for a in run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a.inputs["role"] == role.inputs["name"]]
    assert attached == [SSM_MANAGED_INSTANCE_POLICY]
    assert not [p for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] in (role.id, role.inputs["name"])]
    (profile,) = [p for p in run.by_type("aws:iam/instanceProfile:InstanceProfile") if p.inputs["role"] == role.inputs["name"]]
    _, _, template, _ = _nat_instance_parts(run)
    assert template.inputs["iamInstanceProfile"] == {"arn": profile.outputs["arn"]}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_gateway_stacks_have_no_nat_instance(stack):
    run = planned(stack).run
    assert not run.by_type("aws:ec2/instance:Instance") and not run.by_type("aws:ec2/networkInterface:NetworkInterface")
    assert not [r for r in run.resources if r.type == "mlplatform:network:NatInstance"]


def test_the_cloud_config_is_yaml_a_person_can_read():
    text = cloud_config("10.50.0.0/16")
    assert "content: |\n" in text  # file contents as literal blocks, not escaped strings
    assert yaml.safe_load(text)["write_files"][1]["content"] == nat_rules("10.50.0.0/16")


# --- options the offline plan does not record --------------------------------------------------


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return f"{args.name}-id", {**args.inputs, "arn": f"arn:aws:test:::{args.name}", "latestVersion": 1}

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class _OptionsMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.requests = {}

    def RegisterResource(self, request):
        self.requests[request.type] = request
        return super().RegisterResource(request)


@pytest.mark.parametrize("instance_type,credits", [("t4g.micro", {"cpuCredits": "standard"}), ("c7g.medium", None)])
def test_the_instance_is_replaced_delete_first_and_only_burstable_types_get_a_credit_specification(instance_type, credits):
    pulumi_settings.ROOT.set(None)
    mocks = _Mocks()
    monitor = _OptionsMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="nat-test", stack="dev", preview=False, monitor=monitor)
    facts = StackFacts(name_prefix="mlplatform-dev", project="mlplatform", environment="dev", region="us-east-1", aws_profile=None,
                       cluster_name="c", team_names=())
    tagging = CostTagging("CC-1", "dev", "mlplatform", "ml-platform")

    @pulumi.runtime.test
    def build():
        gateway = aws.ec2.InternetGateway("igw", vpc_id="vpc-1")
        NatInstance("nat", instance_type=instance_type, vpc_id="vpc-1", vpc_cidr="10.0.0.0/16", subnet_id="subnet-1",
                    internet_gateway=gateway, facts=facts, tagging=tagging)

    build()
    instance = monitor.requests["aws:ec2/instance:Instance"]
    # The interface is the instance's device 0: a new instance cannot take it while the old one holds it.
    assert instance.deleteBeforeReplace is True
    template = pulumi.runtime.rpc.deserialize_properties(monitor.requests["aws:ec2/launchTemplate:LaunchTemplate"].object)
    assert template.get("creditSpecification") == credits
    assert template["instanceType"] == instance_type
