"""EKS per stack: control plane from config, private API in prod, access entries, pinned add-ons,
a hardened on-demand system node group, the default encrypted StorageClass and team namespaces."""

import json

import botocore.session
import pytest
import yaml
from pulumi.runtime import rpc

from components.cluster import CONTROL_PLANE_LOG_TYPES, kubeconfig
from components.nodepools import POOL_LABEL
from components.tagging import REQUIRED_TAG_KEYS
from mlp.upstream import chart_dir
from tests.conftest import planned, run_mlp, stack_default_tags, stack_yaml


def _resources(stack, type_token):
    return planned(stack).run.by_type(type_token)


def _one(stack, type_token):
    (resource,) = _resources(stack, type_token)
    return resource


def _compute(resources):
    return [r for r in resources if "mlplatform:compute:" in r.urn]


def _stack_tags(stack):
    return stack_default_tags(stack)


def test_control_plane_follows_config(stack):
    plan = planned(stack)
    spec = plan.config.cluster
    cluster = _one(stack, "aws:eks/cluster:Cluster")
    assert cluster.inputs["name"] == plan.config.cluster_name
    assert cluster.inputs["version"] == spec.kubernetes_version
    assert cluster.inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert cluster.inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert cluster.inputs["upgradePolicy"] == {"supportType": spec.support_type}
    assert cluster.inputs["deletionProtection"] is spec.deletion_protection
    assert cluster.inputs["bootstrapSelfManagedAddons"] is False
    assert set(CONTROL_PLANE_LOG_TYPES) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    (secrets_key,) = [k for k in _compute(_resources(stack, "aws:kms/key:Key")) if k.name.endswith("-secrets")]
    assert secrets_key.inputs["enableKeyRotation"] is True
    assert cluster.inputs["encryptionConfig"] == {"resources": ["secrets"], "provider": {"keyArn": secrets_key.outputs["arn"]}}
    # The control plane calls KMS itself, so the key policy (not an IAM policy) names its role.
    statements = {s["Sid"]: s for s in json.loads(secrets_key.inputs["policy"])["Statement"]}
    (role,) = [r for r in _resources(stack, "aws:iam/role:Role") if r.inputs.get("name") == f"{plan.config.name_prefix}-eks-cluster"]
    assert statements["ControlPlaneEncryptsSecrets"]["Principal"] == {"AWS": role.outputs["arn"]}
    assert not [p for p in _resources(stack, "aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    private_subnets = [s.id for s in _resources(stack, "aws:ec2/subnet:Subnet") if "karpenter.sh/discovery" in s.inputs["tags"]]
    assert sorted(cluster.inputs["vpcConfig"]["subnetIds"]) == sorted(private_subnets)
    (oidc,) = _resources(stack, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"] == cluster.outputs["identities"][0]["oidcs"][0]["issuer"]
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    (log_group,) = [g for g in _resources(stack, "aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"] == f"/aws/eks/{plan.config.cluster_name}/cluster"]
    assert log_group.inputs["retentionInDays"] == spec.control_plane_log_retention_days
    (log_key,) = [k for k in _compute(_resources(stack, "aws:kms/key:Key")) if k.name.endswith("-control-plane-logs-key")]
    assert log_group.inputs["kmsKeyId"] == log_key.outputs["arn"]
    (logs_statement,) = [s for s in json.loads(log_key.inputs["policy"])["Statement"] if s["Sid"] == "CloudWatchLogsEncryptsItsLogGroup"]
    assert logs_statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"].endswith(f":log-group:/aws/eks/{plan.config.cluster_name}/cluster")


@pytest.mark.parametrize("stack,support,protected", [("dev", "STANDARD", False), ("staging", "STANDARD", False), ("prod", "EXTENDED", True)])
def test_support_policy_and_deletion_protection_per_environment(stack, support, protected):
    cluster = _one(stack, "aws:eks/cluster:Cluster")
    assert cluster.inputs["upgradePolicy"]["supportType"] == support
    assert cluster.inputs["deletionProtection"] is protected


def test_prod_api_endpoint_is_private():
    vpc = _one("prod", "aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


@pytest.mark.parametrize("stack,public", [("dev", True), ("staging", False), ("prod", False)])
def test_public_endpoint_only_where_config_allows_it_and_only_for_listed_networks(stack, public):
    spec = planned(stack).config.cluster.endpoint
    vpc = _one(stack, "aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert spec.public_access is public and vpc["endpointPublicAccess"] is public
    if public:
        assert vpc["publicAccessCidrs"] == list(spec.public_access_cidrs)
        assert "0.0.0.0/0" not in vpc["publicAccessCidrs"]


def test_admin_roles_get_cluster_admin_through_access_entries(stack):
    spec = planned(stack).config.cluster
    entries = {e.inputs["principalArn"]: e for e in _resources(stack, "aws:eks/accessEntry:AccessEntry")}
    associations = {a.inputs["principalArn"]: a for a in _resources(stack, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    for role_arn in (spec.deploy_role_arn, *spec.admin_role_arns):
        assert entries[role_arn].inputs["type"] == "STANDARD"
        assert associations[role_arn].inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert associations[role_arn].inputs["accessScope"] == {"type": "cluster"}
    # Nobody else is a cluster admin; Karpenter's nodes join as EC2_LINUX.
    assert set(associations) == {spec.deploy_role_arn, *spec.admin_role_arns}
    (node_entry,) = [e for e in entries.values() if e.inputs["type"] == "EC2_LINUX"]
    assert node_entry.inputs["principalArn"].endswith("-karpenter-node")


def test_kubeconfig_authenticates_as_the_deploy_role():
    document = json.loads(kubeconfig("c1", "https://api", "Q0E=", "us-east-1", "arn:aws:iam::123456789012:role/deployer", None))
    (user,) = document["users"]
    assert user["user"]["exec"]["args"][-4:-2] == ["--role-arn", "arn:aws:iam::123456789012:role/deployer"]
    assert "env" not in user["user"]["exec"]
    assert document["clusters"][0]["cluster"] == {"server": "https://api", "certificate-authority-data": "Q0E="}
    with_profile = json.loads(kubeconfig("c1", "https://api", "Q0E=", "us-east-1", "arn:aws:iam::123456789012:role/deployer", "ops"))
    assert with_profile["users"][0]["user"]["exec"]["env"] == [{"name": "AWS_PROFILE", "value": "ops"}]


def test_kubernetes_provider_is_built_from_a_secret_kubeconfig_of_the_cluster(stack):
    plan = planned(stack)
    (provider,) = [r for r in plan.run.resources if r.type == "pulumi:providers:kubernetes"]
    wrapped = provider.inputs["kubeconfig"]
    # The engine receives the kubeconfig as a secret (so it is encrypted in state and outputs).
    assert wrapped[rpc._special_sig_key] == rpc._special_secret_sig
    config = json.loads(wrapped["value"])
    cluster = _one(stack, "aws:eks/cluster:Cluster")
    assert config["clusters"][0]["cluster"]["server"] == cluster.outputs["endpoint"]
    assert config["users"][0]["user"]["exec"]["args"][3] == plan.config.cluster_name
    kubernetes_objects = [r for r in plan.run.resources if r.type.startswith("kubernetes:") and r.custom]
    assert kubernetes_objects and all(r.provider.startswith(provider.urn) for r in kubernetes_objects)


def test_addons_are_pinned_to_config_versions(stack):
    spec = planned(stack).config.cluster
    # The cluster's own add-ons; the team folders bring the EFS CSI driver (tests/components/test_team_folders.py).
    addons = {a.inputs["addonName"]: a for a in _resources(stack, "aws:eks/addon:Addon") if "$mlplatform:compute:Cluster$" in a.urn}
    assert {name: a.inputs["addonVersion"] for name, a in addons.items()} == spec.addons.by_addon_name()
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"}
    ebs = addons["aws-ebs-csi-driver"]
    (association,) = ebs.inputs["podIdentityAssociations"]
    assert association["serviceAccount"] == "ebs-csi-controller-sa" and association["roleArn"].endswith("-ebs-csi")
    # The EBS node plugin must run on tainted GPU nodes too, or their volumes never attach.
    values = json.loads(ebs.inputs["configurationValues"])
    assert values["node"] == {"tolerateAllTaints": True}
    # Given the region, the controller never needs instance metadata, which hop limit 1 keeps from pods.
    assert values["controller"]["region"] == planned(stack).config.region


def _trust(role):
    return json.loads(role.inputs["assumeRolePolicy"])["Statement"]


def test_the_cni_gets_its_policy_through_pod_identity_not_the_node_roles(stack):
    """A pod that reaches a node's credentials must not be able to rewire its network interfaces."""
    plan = planned(stack)
    roles = {r.inputs.get("name"): r for r in _resources(stack, "aws:iam/role:Role")}
    attachments = _resources(stack, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    node_roles = [role for role in _compute(roles.values()) if any(s["Principal"].get("Service") == "ec2.amazonaws.com" for s in _trust(role))]
    assert len(node_roles) == 2  # the system node group's and Karpenter's
    for role in node_roles:
        attached = [a.inputs["policyArn"] for a in attachments if a.inputs["role"] == role.inputs["name"]]
        assert attached and not any(arn.endswith("/AmazonEKS_CNI_Policy") for arn in attached)
    cni_role = roles[f"{plan.config.name_prefix}-vpc-cni"]
    (statement,) = _trust(cni_role)
    assert statement["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] == "kube-system"
    assert statement["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == "aws-node"
    assert [a.inputs["policyArn"] for a in attachments if a.inputs["role"] == cni_role.inputs["name"]] == ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]
    addons = {a.inputs["addonName"]: a for a in _resources(stack, "aws:eks/addon:Addon")}
    assert addons["vpc-cni"].inputs["podIdentityAssociations"] == [{"serviceAccount": "aws-node", "roleArn": cni_role.outputs["arn"]}]
    # The CNI takes its credentials from the Pod Identity agent, so the agent add-on is installed first.
    assert addons["eks-pod-identity-agent"].urn in addons["vpc-cni"].dependencies


def test_every_pod_identity_role_names_account_cluster_namespace_and_service_account(stack):
    """All of them: a role meant for one workload cannot be handed to another pod or another cluster's."""
    plan = planned(stack)
    cluster_arn = f"arn:aws:eks:{plan.config.region}:123456789012:cluster/{plan.config.cluster_name}"
    pod_roles = [r for r in _resources(stack, "aws:iam/role:Role") if "pods.eks.amazonaws.com" in r.inputs["assumeRolePolicy"]]
    assert len(pod_roles) >= 10
    for role in pod_roles:
        for statement in _trust(role):
            condition = statement["Condition"]["StringEquals"]
            assert condition["aws:SourceAccount"] == "123456789012", role.urn
            assert condition["aws:RequestTag/eks-cluster-arn"] == cluster_arn, role.urn
            assert condition["aws:RequestTag/kubernetes-namespace"] and condition["aws:RequestTag/kubernetes-service-account"], role.urn
            assert "*" not in json.dumps(condition), role.urn


def test_network_policies_are_enforced_by_the_cni(stack):
    # Without the flag, every NetworkPolicy the platform declares (notebook egress, model servers)
    # is accepted by the API server and enforced by nothing.
    addons = {a.inputs["addonName"]: a for a in _resources(stack, "aws:eks/addon:Addon")}
    values = json.loads(addons["vpc-cni"].inputs["configurationValues"])
    assert values["enableNetworkPolicy"] == "true"
    # Network policy needs a CNI of at least 1.14 (the node agent).
    major, minor = (int(part) for part in addons["vpc-cni"].inputs["addonVersion"].lstrip("v").split(".")[:2])
    assert (major, minor) >= (1, 14)


def test_system_node_group_runs_through_a_hardened_launch_template(stack):
    spec = planned(stack).config.cluster.system_node_group
    group = _one(stack, "aws:eks/nodeGroup:NodeGroup")
    (template,) = [t for t in _resources(stack, "aws:ec2/launchTemplate:LaunchTemplate") if t.inputs["name"].endswith("-system-nodes")]
    assert group.inputs["capacityType"] == spec.capacity_type
    # Only dev accepts minutes without its controllers; production's stay on-demand.
    assert spec.capacity_type == ("SPOT" if stack == "dev" else "ON_DEMAND")
    assert group.inputs["instanceTypes"] == list(spec.instance_types)
    assert group.inputs["scalingConfig"] == {"minSize": spec.min_size, "desiredSize": spec.desired_size, "maxSize": spec.max_size}
    assert group.inputs["labels"] == {POOL_LABEL: "system"}
    assert group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}
    assert "diskSize" not in group.inputs  # the launch template owns the root volume
    (root,) = template.inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {"volumeType": "gp3", "volumeSize": spec.disk_size_gi, "encrypted": "true", "deleteOnTermination": "true"}


def test_every_launch_template_requires_imdsv2_with_hop_limit_1(stack):
    """At hop limit 2 any pod on a system node could take the node role's credentials."""
    templates = _resources(stack, "aws:ec2/launchTemplate:LaunchTemplate")
    assert templates
    for template in templates:
        assert template.inputs["metadataOptions"] == {"httpEndpoint": "enabled", "httpProtocolIpv6": "disabled",
                                                      "httpPutResponseHopLimit": 1, "httpTokens": "required"}


def test_launch_templates_tag_instances_volumes_and_interfaces_with_all_cost_tags(stack):
    expected = {**_stack_tags(stack), "Team": planned(stack).config.platform_team, "Component": "compute"}
    templates = _compute(_resources(stack, "aws:ec2/launchTemplate:LaunchTemplate"))  # a NAT instance's is the network's
    assert templates
    for template in templates:
        by_kind = {spec["resourceType"]: spec["tags"] for spec in template.inputs["tagSpecifications"]}
        assert set(by_kind) == {"instance", "volume", "network-interface"}
        for tags in by_kind.values():
            assert set(REQUIRED_TAG_KEYS) <= set(tags)
            assert {key: tags[key] for key in REQUIRED_TAG_KEYS} == {key: expected[key] for key in REQUIRED_TAG_KEYS}


def test_cluster_security_group_is_discoverable_by_karpenter(stack):
    plan = planned(stack)
    (tag,) = [t for t in _resources(stack, "aws:ec2/tag:Tag") if t.inputs["key"] == "karpenter.sh/discovery"]
    cluster = _one(stack, "aws:eks/cluster:Cluster")
    assert tag.inputs["resourceId"] == cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert tag.inputs["value"] == plan.config.cluster_name


def test_default_storage_class_is_encrypted_gp3_and_tags_its_volumes(stack):
    # Notebooks declare one class per team (billed to the team); the cluster owns the default.
    (storage_class,) = [c for c in _resources(stack, "kubernetes:storage.k8s.io/v1:StorageClass")
                        if (c.inputs["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    assert storage_class.inputs["metadata"]["name"] == "gp3-encrypted"
    assert storage_class.inputs["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert storage_class.inputs["provisioner"] == "ebs.csi.aws.com"
    assert storage_class.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    parameters = storage_class.inputs["parameters"]
    assert parameters["type"] == "gp3" and parameters["encrypted"] == "true"
    volume_tags = dict(value.split("=", 1) for key, value in parameters.items() if key.startswith("tagSpecification_"))
    expected = {**_stack_tags(stack), "Team": planned(stack).config.platform_team, "Component": "compute"}
    assert volume_tags == {key: expected[key] for key in REQUIRED_TAG_KEYS}


def test_every_team_gets_a_namespace_with_quota_and_limits(stack):
    plan = planned(stack)
    spec = plan.config.cluster
    namespaces = {n.inputs["metadata"]["name"]: n for n in _compute(_resources(stack, "kubernetes:core/v1:Namespace"))}
    assert set(namespaces) == set(plan.config.team_names)
    quotas = {q.inputs["metadata"]["namespace"]: q.inputs["spec"]["hard"] for q in _resources(stack, "kubernetes:core/v1:ResourceQuota")}
    limits = {r.inputs["metadata"]["namespace"]: r.inputs["spec"]["limits"] for r in _resources(stack, "kubernetes:core/v1:LimitRange")}
    for team in plan.config.team_names:
        quota = spec.team_quota(team)
        labels = namespaces[team].inputs["metadata"]["labels"]
        assert labels["mlplatform.io/team"] == team and labels["mlplatform.io/component"] == "compute"
        # Teams' own code runs here: Pod Security enforces baseline, warns and audits restricted.
        assert {key: value for key, value in labels.items() if key.startswith("pod-security.kubernetes.io/")} == {
            "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted"}
        assert quotas[team]["requests.nvidia.com/gpu"] == str(quota.gpus)
        assert quotas[team]["requests.cpu"] == str(quota.cpu)
        assert quotas[team]["requests.memory"] == f"{quota.memory_gi}Gi"
        assert quotas[team]["requests.storage"] == f"{quota.storage_gi}Gi"
        (container,) = limits[team]
        assert container["type"] == "Container"
        assert container["defaultRequest"] == {"cpu": f"{spec.container_defaults.cpu_request_millicores}m", "memory": f"{spec.container_defaults.memory_request_mi}Mi"}


@pytest.mark.parametrize("stack,team,gpus", [("dev", "forecasting", 2), ("dev", "vision", 4), ("prod", "vision", 32), ("prod", "recommendations", 8)])
def test_team_gpu_quota_follows_config_per_team(stack, team, gpus):
    (quota,) = [q for q in _resources(stack, "kubernetes:core/v1:ResourceQuota") if q.inputs["metadata"]["namespace"] == team]
    assert quota.inputs["spec"]["hard"]["requests.nvidia.com/gpu"] == str(gpus)


def test_load_balancer_controller_is_pinned_and_uses_pod_identity(stack):
    plan = planned(stack)
    (release,) = [r for r in _resources(stack, "kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "aws-load-balancer-controller"]
    assert release.inputs["version"] == plan.config.cluster.charts.aws_load_balancer_controller
    assert release.inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    values = release.inputs["values"]
    assert values["clusterName"] == plan.config.cluster_name and values["ingressClass"] == "alb"
    # Given explicitly: with IMDS out of reach the controller cannot discover its region and VPC.
    (vpc,) = _resources(stack, "aws:ec2/vpc:Vpc")
    assert values["region"] == plan.config.region and values["vpcId"] == vpc.id
    assert values["serviceAccount"] == {"create": True, "name": "aws-load-balancer-controller"}
    assert release.inputs["namespace"] == "kube-system"
    assert values["nodeSelector"] == {POOL_LABEL: "system"}
    assert set(REQUIRED_TAG_KEYS) <= set(values["defaultTags"])
    (association,) = [a for a in _resources(stack, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
                      if a.inputs["serviceAccount"] == "aws-load-balancer-controller"]
    assert association.inputs["namespace"] == "kube-system"
    assert association.inputs["roleArn"].endswith("-lb-controller")
    (policy,) = [p for p in _resources(stack, "aws:iam/policy:Policy") if p.inputs["name"].endswith("-lb-controller")]
    actions = {a for s in json.loads(policy.inputs["policy"])["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:RegisterTargets", "ec2:DescribeSubnets"} <= actions
    assert not any(action.endswith(":*") for action in actions)


def test_load_balancer_controller_runs_restricted_with_requests_and_limits(stack):
    (release,) = [r for r in _resources(stack, "kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "aws-load-balancer-controller"]
    values = release.inputs["values"]
    resources = values["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert values["image"] == {"pullPolicy": "Always"}
    # The chart's default context keeps NET_RAW and the other default capabilities.
    assert values["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 65534,
    }
    assert values["podSecurityContext"] == {"runAsNonRoot": True, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}}


def test_ingress_tags_win_over_the_load_balancer_controller_defaults(stack):
    # Model-serving ALBs name their team in `alb.ingress.kubernetes.io/tags`; the controller's
    # default tags win unless this gate is on, billing every ALB to the platform team.
    (release,) = [r for r in _resources(stack, "kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "aws-load-balancer-controller"]
    assert release.inputs["values"]["controllerConfig"]["featureGates"] == {"EnableDefaultTagsLowPriority": True}
    # The gate exists from controller v2.14.1: the pinned chart must ship at least that controller.
    chart = yaml.safe_load((chart_dir("aws-load-balancer-controller", release.inputs["version"]) / "Chart.yaml").read_text())
    assert tuple(int(part) for part in chart["appVersion"].lstrip("v").split(".")) >= (2, 14, 1)


# --- bad configuration: exit 2 and one line naming the file and key ---------------------------


def _cluster(document):
    return document["config"]["mlplatform:cluster"]


@pytest.mark.parametrize("edit,expected", [
    (lambda c: c["systemNodeGroup"].update(minSize=3, maxSize=2, desiredSize=2),
     "mlplatform:cluster.systemNodeGroup.maxSize: must be >= minSize (3), got 2"),
    (lambda c: c["systemNodeGroup"].update(capacityType="SPOT", instanceTypes=["t4g.large"]),
     "mlplatform:cluster.systemNodeGroup.instanceTypes: a spot node group needs two or more instance types"),
    (lambda c: c["systemNodeGroup"].update(instanceTypes=["m7g.large", "m6i.large"]),
     "mlplatform:cluster.systemNodeGroup.instanceTypes[1]: m6i.large is x86_64 but m7g.large is not; one group runs one AMI"),
    (lambda c: c.update(supportType="LTS"),
     "mlplatform:cluster.supportType: expected one of STANDARD, EXTENDED, got 'LTS'"),
    (lambda c: c["systemNodeGroup"].update(desiredSize=9),
     "mlplatform:cluster.systemNodeGroup.desiredSize: must be between minSize (1) and maxSize (3), got 9"),
    (lambda c: c["endpoint"].update(publicAccessCidrs=["0.0.0.0/0"]),
     "mlplatform:cluster.endpoint.publicAccessCidrs[0]: 0.0.0.0/0 opens the API server to the internet"),
    (lambda c: c["addons"].update(kubeProxy="v1.31.2-eksbuild.3"),
     "mlplatform:cluster.addons.kubeProxy: must be a build for Kubernetes 1.34"),
    (lambda c: c["charts"].update(karpenter="^1.8"),
     "mlplatform:cluster.charts.karpenter: expected an exact chart version"),
    (lambda c: c.update(adminRoleArns=[c["deployRoleArn"]]),
     "mlplatform:cluster.adminRoleArns: arn:aws:iam::123456789012:role/mlplatform-dev-deployer is already deployRoleArn"),
    (lambda c: c["teamQuotas"]["teams"].update(vision={"gpus": 9}),
     "mlplatform:cluster.teamQuotas.teams.vision.gpus: team 'vision' may request 9 GPUs but the GPU pools are limited to 8"),
    (lambda c: c["teamQuotas"]["teams"].update(marketing={"gpus": 1}),
     "mlplatform:cluster.teamQuotas.teams.marketing: unknown team"),
    (lambda c: c.update(controllerReplicas=2),
     "mlplatform:cluster.controllerReplicas: controller replicas each need their own system node, and the system node group may shrink to minSize (1)"),
    (lambda c: c["endpoint"].pop("publicAccessCidrs"),
     "mlplatform:cluster.endpoint.publicAccessCidrs: is required"),
    (lambda c: c.update(kubernetesVersion=1.34),
     "mlplatform:cluster.kubernetesVersion: expected a supported EKS Kubernetes version like 1.33 (quote it in YAML)"),
])
def test_bad_cluster_config_exits_2_with_one_line(write_stack, edit, expected):
    document = stack_yaml("dev")
    edit(_cluster(document))
    done = run_mlp("plan", "dev", "--config-file", str(write_stack("dev", document)))
    assert done.returncode == 2, done.stdout
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "Pulumi.dev.yaml: " in done.stderr and expected in done.stderr


@pytest.mark.parametrize("instance_types, ami_type", [(["t3.large", "t3a.large"], "AL2023_x86_64_STANDARD"),
                                                      (["t4g.large", "m7g.large"], "AL2023_ARM_64_STANDARD")])
def test_the_system_node_group_runs_the_ami_of_its_instances_architecture(plan_edited, instance_types, ami_type):
    plan = plan_edited("dev", lambda config: config["mlplatform:cluster"]["systemNodeGroup"].update(instanceTypes=instance_types))
    (group,) = [r for r in plan.resources if r.type == "aws:eks/nodeGroup:NodeGroup"]
    assert group.inputs["amiType"] == ami_type
    assert group.inputs["instanceTypes"] == instance_types
    assert group.inputs["capacityType"] == planned("dev").config.cluster.system_node_group.capacity_type
    # Both are values EKS accepts (its API model's AMITypes).
    assert ami_type in botocore.session.get_session().get_service_model("eks").shape_for("AMITypes").enum
