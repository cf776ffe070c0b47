"""Notebooks: JupyterHub for every data scientist, on the platform's cluster, governed by config.

JupyterHub runs from its official Helm chart (version pinned in the stack file) in the
`notebooks` namespace: hub, proxy and user scheduler on the system nodes; user servers from the
stack's profiles (CPU sizes, a GPU profile that tolerates the GPU taint and selects the GPU pool,
RStudio), with images from the platform's ECR repositories.

- Idle culling is explicit per stack. The culler only stops servers (`cull.users: false`, named
  servers are not removed) and KubeSpawner is told never to delete PVCs, so a user's home volume
  (gp3, cost-tagged by the cluster's StorageClass) survives every cull.
- Sign-in is OIDC through GenericOAuthenticator; the client secret is read from Secrets Manager
  into a Kubernetes Secret, never written in a stack file. Dummy sign-in exists for dev only,
  enforced by config validation.
- Data-lake access: a user server runs as the service account of a team, `notebook-<team>`, which
  EKS Pod Identity binds to that team's data-lake role. Every profile offers a "team" choice; the
  hub narrows the choices to the teams whose identity-provider group the user belongs to, and
  KubeSpawner refuses any choice not offered, so nobody can pick another team's data access.
- Exposed through the AWS Load Balancer Controller: an ALB with TLS from the configured ACM
  certificate (plain HTTP only redirects), internal or internet-facing per stack, reachable only
  from the allowed CIDRs, with access logs, deletion protection and a WAF web ACL as the stack
  says, carrying the cost tags (the controller creates it, so provider default tags never reach it).
- User code runs here, so the namespace enforces the `baseline` Pod Security standard (warning
  and auditing at `restricted`). User servers reach neither instance metadata (the nodes' hop
  limit is 1, and the chart's network policy blocks the address) nor anything but DNS, HTTPS
  outside the cluster and the Pod Identity agent; no privileged iptables init container is needed.
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import NotebooksConfig
from components.facts import StackFacts
from components.hardening import PULL_ALWAYS, Resources, container_security_context, pod_security_context, pod_security_labels
from components.interfaces import ClusterAccess
from components.load_balancers import SHARED_ALB_COMPONENT, alb_annotations
from components.notebook_profiles import (
    COMPONENT,
    NAMESPACE,
    Placement,
    TeamFolderMounts,
    profile_entry,
    profile_image,
    team_profiles_hook,
    team_service_account,
    team_storage_class,
)
from components.storage import ebs_storage_class
from components.tagging import CostTagging
from components.workloads import POD_IDENTITY_AGENT_CIDR

RELEASE_NAME = "jupyterhub"
CHART = "jupyterhub"
CHART_REPOSITORY = "https://hub.jupyter.org/helm-chart/"
OAUTH_SECRET_NAME = "jupyterhub-oauth-client"
OAUTH_SECRET_KEY = "client-secret"
HUB_DATABASE_SIZE = "1Gi"
# Karpenter never voluntarily disrupts a node running a pod with this annotation.
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"

# Sizes of the chart's own pods. The hub is one Python process holding every user's state and
# spawning servers: idle at ~250m/512Mi, it bursts when a class starts its servers at once.
HUB_RESOURCES = Resources(cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")
# configurable-http-proxy is one Node.js process; its routing table stays small, traffic bursts.
PROXY_RESOURCES = Resources(cpu_request="100m", memory_request="128Mi", cpu_limit="500m", memory_limit="512Mi")
# kube-scheduler caches every node and pod of the cluster, so memory is what it needs.
USER_SCHEDULER_RESOURCES = Resources(cpu_request="50m", memory_request="256Mi", cpu_limit="500m", memory_limit="512Mi")
# The hub runs as a high UID (no clash with a host user) in the image's group 1000, which also owns
# its database volume (fsGroup): the sqlite file stays writable whichever UID wrote it before.
HUB_USER_ID = 10001
HUB_GROUP_ID = 1000
# The chart's proxy and user scheduler run as nobody.
NOBODY = 65534
# With a read-only root the hub writes only its database volume (/srv/jupyterhub, its working
# directory) and this scratch folder for Python's temporary files.
HUB_TMP_VOLUME = {"name": "tmp", "emptyDir": {}}
HUB_TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}


def ingress_annotations(notebooks: NotebooksConfig, tagging: CostTagging, log_bucket: str, group: Optional[str] = None) -> dict[str, str]:
    ingress = notebooks.ingress
    return {
        **alb_annotations(
            name="notebooks", scheme=ingress.scheme, certificate_arn=ingress.certificate_arn, allowed_cidrs=ingress.allowed_cidrs,
            log_bucket=log_bucket, deletion_protection=ingress.deletion_protection, waf_acl_arn=ingress.waf_acl_arn,
            tags=tagging.all_tags(COMPONENT), group=group, shared_tags=tagging.all_tags(SHARED_ALB_COMPONENT),
            # People type the host name into a browser: port 80 answers with a redirect to HTTPS.
            redirect_http=True,
        ),
        "alb.ingress.kubernetes.io/healthcheck-path": "/hub/health",
    }


def auth_values(notebooks: NotebooksConfig) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(hub.config, hub.extraEnv, hub.extraConfig) for the configured sign-in."""
    auth = notebooks.auth
    if auth.type == "dummy":
        return {"JupyterHub": {"authenticator_class": "dummy"}}, {}, {}
    team_groups = dict(auth.team_groups)
    hub_config = {
        "JupyterHub": {"authenticator_class": "generic-oauth"},
        "GenericOAuthenticator": {
            "client_id": auth.client_id,
            "oauth_callback_url": f"https://{notebooks.hostname}/hub/oauth_callback",
            "authorize_url": auth.authorize_url,
            "token_url": auth.token_url,
            "userdata_url": auth.userdata_url,
            "username_claim": auth.username_claim,
            "scope": list(auth.scopes),
            "claim_groups_key": auth.groups_claim,
            "manage_groups": True,
            "allowed_groups": sorted(set(team_groups.values()) | set(auth.admin_groups)),
            "admin_groups": list(auth.admin_groups),
            "login_service": "single sign-on",
        },
    }
    # OAuthenticator reads its client secret from this variable, so no secret sits in the values.
    extra_env = {"OAUTH_CLIENT_SECRET": {"valueFrom": {"secretKeyRef": {"name": OAUTH_SECRET_NAME, "key": OAUTH_SECRET_KEY}}}}
    extra_config = {"mlplatform-team-profiles": team_profiles_hook(team_groups)}
    return hub_config, extra_env, extra_config


def helm_values(notebooks: NotebooksConfig, facts: StackFacts, tagging: CostTagging, placement: Placement,
                repository_urls: dict[str, str], log_bucket: str) -> dict[str, Any]:
    """The JupyterHub chart's values for this stack."""
    culling = notebooks.culling
    default_profile = next((p for p in notebooks.profiles if p.default), notebooks.profiles[0])
    default_image = profile_image(default_profile, repository_urls)
    image_name, _, image_tag = default_image.rpartition(":")
    system = dict(placement.system_node_selector)
    hub_config, hub_env, hub_extra_config = auth_values(notebooks)
    # Stopping a server never deletes its PVC; this also keeps it when a user is deleted.
    hub_config["KubeSpawner"] = {"delete_pvc": False}

    # Only the cost labels: the chart owns `component`, `app`, `release` and the app.kubernetes.io
    # names it selects its pods on.
    labels = tagging.cost_labels(COMPONENT)
    return {
        "hub": {
            "nodeSelector": system,
            "labels": labels,
            "config": hub_config,
            "extraEnv": hub_env,
            "extraConfig": hub_extra_config,
            "db": {"type": "sqlite-pvc", "pvc": {"storageClassName": placement.storage_class_name, "storage": HUB_DATABASE_SIZE}},
            "image": {"pullPolicy": PULL_ALWAYS},
            "resources": HUB_RESOURCES.values(),
            "podSecurityContext": pod_security_context(fs_group=HUB_GROUP_ID),
            "containerSecurityContext": container_security_context(user=HUB_USER_ID, group=HUB_GROUP_ID),
            "extraVolumes": [dict(HUB_TMP_VOLUME)],
            "extraVolumeMounts": [dict(HUB_TMP_MOUNT)],
        },
        "proxy": {
            # The ALB reaches the proxy through the ingress; no second load balancer.
            "service": {"type": "ClusterIP"},
            "labels": labels,
            "chp": {
                "nodeSelector": system,
                "image": {"pullPolicy": PULL_ALWAYS},
                "resources": PROXY_RESOURCES.values(),
                # The chart has no pod security context value for the proxy; extraPodSpec adds one.
                "extraPodSpec": {"securityContext": pod_security_context()},
                "containerSecurityContext": container_security_context(user=NOBODY, group=NOBODY),
            },
        },
        "singleuser": {
            "image": {"name": image_name, "tag": image_tag},
            "startTimeout": notebooks.start_timeout_seconds,
            # The chart's default `hub.jupyter.org/network-access-hub` label stays: Helm merges maps.
            "extraLabels": labels,
            # Consolidation must never stop a running server: in-memory work would be lost. The
            # culler stops idle servers, and the pool's termination grace period bounds how long a
            # server can hold an expiring node.
            "extraAnnotations": {DO_NOT_DISRUPT: "true"},
            "extraEnv": {"AWS_REGION": facts.region, "AWS_DEFAULT_REGION": facts.region},
            "storage": {
                "type": "dynamic",
                "capacity": f"{notebooks.storage_capacity_gi}Gi",
                "dynamic": {"storageClass": placement.storage_class_name},
                "extraLabels": labels,
            },
            # System nodes carry no taint and the user scheduler packs pods onto the fullest node:
            # without this, user servers would fill the nodes the hub and cluster add-ons need.
            "extraNodeAffinity": {
                "required": [{"matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]} for key, value in sorted(system.items())]}],
            },
            # The chart's network policy already refuses the metadata address, and the nodes' hop limit
            # of 1 keeps it out of any pod's reach: the privileged iptables init container the chart
            # would add for the same purpose is what the namespace's Pod Security level forbids.
            "cloudMetadata": {"blockWithIptables": False},
            # Credentials come from the Pod Identity agent, never from the instance metadata service.
            "networkPolicy": {
                "egress": [{"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT_CIDR}}], "ports": [{"port": 80, "protocol": "TCP"}]}],
            },
            "profileList": [profile_entry(p, facts.team_names, placement, repository_urls, tagging) for p in notebooks.profiles],
        },
        "scheduling": {
            "userScheduler": {
                "enabled": True,
                "nodeSelector": system,
                "labels": labels,
                "image": {"pullPolicy": PULL_ALWAYS},
                "resources": USER_SCHEDULER_RESOURCES.values(),
                # No pod security context value here either. kube-scheduler keeps its serving
                # certificate in memory, so it writes nothing to its root filesystem.
                "extraPodSpec": {"securityContext": pod_security_context()},
                "containerSecurityContext": container_security_context(user=NOBODY, group=NOBODY),
            },
            # Karpenter adds nodes on demand; overprovisioning pods would keep paid nodes idle.
            "userPlaceholder": {"enabled": False},
            "corePods": {"nodeAffinity": {"matchNodePurpose": "ignore"}},
            "userPods": {"nodeAffinity": {"matchNodePurpose": "ignore"}},
        },
        # Nodes come and go with Karpenter; pre-pulling multi-GB images onto each would cost more than it saves.
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
        "ingress": {
            "enabled": True,
            "ingressClassName": placement.ingress_class_name,
            "hosts": [notebooks.hostname],
            "pathType": "Prefix",
            "annotations": ingress_annotations(notebooks, tagging, log_bucket, placement.ingress_group),
        },
        "cull": {
            "enabled": culling.enabled,
            "users": False,
            "removeNamedServers": False,
            "adminUsers": True,
            "timeout": culling.idle_timeout_minutes * 60,
            "every": culling.check_interval_minutes * 60,
            "maxAge": culling.max_age_hours * 3600,
        },
    }


class Notebooks(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: NotebooksConfig,
        facts: StackFacts,
        tagging: CostTagging,
        cluster: ClusterAccess,
        team_role_arns: dict[str, pulumi.Output[str]],
        repository_urls: dict[str, pulumi.Output[str]],
        access_log_bucket: str,
        team_folders: Optional[TeamFolderMounts] = None,
        user_environment: Optional[dict[str, pulumi.Input[str]]] = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlplatform:notebooks:Notebooks", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels={**tagging.k8s_labels(COMPONENT, app="jupyterhub"), **pod_security_labels()}),
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        self.service_accounts: dict[str, k8s.core.v1.ServiceAccount] = {}
        self.pod_identity_associations: dict[str, aws.eks.PodIdentityAssociation] = {}
        for team in facts.team_names:
            self.service_accounts[team] = k8s.core.v1.ServiceAccount(
                f"{name}-{team}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=team_service_account(team),
                    namespace=NAMESPACE,
                    labels=tagging.k8s_labels(COMPONENT, team, app="jupyterhub-user"),
                ),
                opts=in_namespace,
            )
            self.pod_identity_associations[team] = aws.eks.PodIdentityAssociation(
                f"{name}-{team}",
                cluster_name=cluster.cluster_name,
                namespace=NAMESPACE,
                service_account=team_service_account(team),
                role_arn=team_role_arns[team],
                tags=tagging.resource_tags(COMPONENT, team),
                opts=child,
            )

        self.team_storage_classes = {
            team: ebs_storage_class(
                f"{name}-{team_storage_class(team)}",
                team_storage_class(team),
                labels=tagging.k8s_labels(COMPONENT, team, app="notebook-storage"),
                tag_parameters=tagging.ebs_csi_storage_class_parameters(COMPONENT, team),
                opts=child,
            )
            for team in facts.team_names
        }

        # The chart's Services pass the load balancer controller's webhook (it fails closed while the
        # controller is down) and its volumes need the tagged StorageClass.
        release_dependencies: list[pulumi.Resource] = [
            self.namespace,
            *self.service_accounts.values(),
            cluster.load_balancer_controller,
            cluster.storage_class,
            *self.team_storage_classes.values(),
        ]
        if settings.auth.type == "oidc":
            client_secret = aws.secretsmanager.get_secret_version_output(
                secret_id=settings.auth.client_secret_name,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            self.oauth_secret = k8s.core.v1.Secret(
                f"{name}-oauth-client",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=OAUTH_SECRET_NAME,
                    namespace=NAMESPACE,
                    labels=tagging.k8s_labels(COMPONENT, app="jupyterhub-hub"),
                ),
                type="Opaque",
                string_data={OAUTH_SECRET_KEY: pulumi.Output.secret(client_secret.secret_string)},
                opts=in_namespace,
            )
            release_dependencies.append(self.oauth_secret)

        placement = Placement(
            storage_class_name=cluster.storage_class_name,
            ingress_class_name=cluster.ingress_class_name,
            system_node_selector=dict(cluster.system_node_selector),
            gpu_node_selector=dict(cluster.gpu_node_selector or {}),
            gpu_toleration=cluster.gpu_toleration or None,
            ingress_group=cluster.ingress_group,
            # Each team's servers mount its shared folder beside the private home (components/team_folders.py).
            team_folders=team_folders,
        )
        repository_names = sorted(repository_urls)
        values = pulumi.Output.all(*[repository_urls[r] for r in repository_names]).apply(
            lambda urls: helm_values(settings, facts, tagging, placement, dict(zip(repository_names, urls)), access_log_bucket)
        )
        if user_environment:
            # Every user server also gets these (experiment tracking: MLFLOW_TRACKING_URI, components/experiments.py).
            values = pulumi.Output.all(values, pulumi.Output.from_input(user_environment)).apply(lambda args: {
                **args[0], "singleuser": {**args[0]["singleuser"], "extraEnv": {**args[0]["singleuser"]["extraEnv"], **args[1]}}})
        self.release = k8s.helm.v3.Release(
            f"{name}-jupyterhub",
            name=RELEASE_NAME,
            chart=CHART,
            version=settings.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
            namespace=NAMESPACE,
            create_namespace=False,
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            # GPU and RStudio images are large and the first hub start provisions its volume.
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, depends_on=release_dependencies),
        )

        self.url = f"https://{settings.hostname}"
        self.team_service_accounts = {team: team_service_account(team) for team in facts.team_names}
        self.register_outputs({
            "url": self.url,
            "namespace": NAMESPACE,
            "chartVersion": settings.chart_version,
            "teamServiceAccounts": self.team_service_accounts,
        })
