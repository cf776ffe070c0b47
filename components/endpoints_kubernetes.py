"""Model serving and batch scoring on the platform's EKS cluster.

`KubernetesEndpoint`: a hardened Deployment behind a Service and an internal ALB Ingress, scaled by
a HorizontalPodAutoscaler between the configured bounds, protected by a PodDisruptionBudget and a
NetworkPolicy, with its own ServiceAccount that EKS Pod Identity maps to a role reading only its
model. A canary is a second Deployment and Service; the ALB splits traffic by the configured weight.

`BatchScoringJob`: a CronJob with the same hardening that reads the curated zone and writes its
predictions back under the team's prefix of it, through a role allowed exactly that.

Every pod runs as a non-root user with a read-only root filesystem, no capabilities, no privilege
escalation and the RuntimeDefault seccomp profile; GPU work requests `nvidia.com/gpu` and
tolerates the GPU pool's taint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import (
    BatchJobConfig,
    EndpointConfig,
    ImageRef,
    S3Location,
)
from components.endpoints_sagemaker import lake_key_statement, model_read_statements
from components.facts import StackFacts
from components.iam import pod_identity_role, policy_document
from components.nodepools import GPU_RESOURCE
from components.tagging import CostTagging

COMPONENT = "endpoints"
TRACK_LABEL = "endpoints.mlplatform.io/track"
# A fixed, unprivileged identity (above 10000, clear of host users) for every serving pod.
POD_USER_ID = 10001
# The EKS Pod Identity agent answers credential requests on this link-local address.
POD_IDENTITY_AGENT_CIDR = "169.254.170.23/32"
CHECKOV_SKIP_DIGEST = "checkov.io/skip1"


@dataclass(frozen=True)
class ClusterPlacement:
    """Where and how pods run: the cluster, the team namespace, GPU scheduling, the VPC."""

    cluster_name: pulumi.Input[str]
    namespace: str
    namespace_resource: Optional[pulumi.Resource]
    ingress_class_name: str
    # The AWS Load Balancer Controller: its webhooks must be up before Services and Ingresses land.
    load_balancer_controller: Optional[pulumi.Resource]
    gpu_node_selector: dict
    gpu_toleration: Optional[dict]
    vpc_cidr: str
    # Labels of the untainted system nodes, which model servers and scoring jobs must leave alone.
    system_node_selector: dict


def image_pin_annotations(*images: ImageRef) -> dict[str, str]:
    """checkov wants digests; a tag is the documented alternative pin (immutable outside dev)."""
    if all(image.digest for image in images):
        return {}
    return {CHECKOV_SKIP_DIGEST: "CKV_K8S_43=pinned by a version tag from stack config; ECR makes tags immutable where mlplatform:registries.immutableTags is true"}


def pod_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": POD_USER_ID,
        "runAsGroup": POD_USER_ID,
        "fsGroup": POD_USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": POD_USER_ID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_resources(cpu: str, memory: str, gpus: int) -> dict:
    """Requests equal limits: predictable latency (Guaranteed QoS) and honest cost allocation."""
    limits = {"cpu": cpu, "memory": memory}
    if gpus:
        limits[GPU_RESOURCE] = str(gpus)
    return {"requests": dict(limits), "limits": limits}


def pod_scheduling(gpus: int, placement: ClusterPlacement) -> dict:
    """Off the system nodes always; onto the GPU pool, tolerating its taint, when GPUs are requested."""
    scheduling: dict[str, Any] = {}
    if placement.system_node_selector:
        scheduling["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
            "matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]} for key, value in sorted(placement.system_node_selector.items())],
        }]}}}
    if not gpus:
        return scheduling
    if placement.gpu_node_selector:
        scheduling["nodeSelector"] = dict(placement.gpu_node_selector)
    if placement.gpu_toleration:
        scheduling["tolerations"] = [dict(placement.gpu_toleration)]
    return scheduling


def scratch_volume() -> tuple[dict, dict]:
    """Writable /tmp for model servers, since the root filesystem is read-only."""
    return {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "tmp", "mountPath": "/tmp"}


def egress_rules() -> list[dict]:
    """DNS inside the cluster, credentials from the Pod Identity agent, HTTPS to AWS APIs and S3."""
    return [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT_CIDR}}], "ports": [{"protocol": "TCP", "port": 80}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
    ]


def _env(values: dict[str, pulumi.Input[str]]) -> list[dict]:
    return [{"name": name, "value": value} for name, value in values.items()]


def endpoint_role_policy(model_locations: list[S3Location], models_bucket_arn: str, key_arn: str) -> str:
    statements: list[dict] = []
    for i, location in enumerate(model_locations):
        for statement in model_read_statements(models_bucket_arn, location):
            statements.append({**statement, "Sid": f"{statement['Sid']}{i}"})
    statements.append(lake_key_statement(key_arn, ["kms:Decrypt", "kms:DescribeKey"]))
    return policy_document(statements)


def batch_job_role_policy(job: BatchJobConfig, models_bucket_arn: str, curated_bucket_arn: str, key_arn: str) -> str:
    statements = model_read_statements(models_bucket_arn, job.model) + [
        {"Sid": "ReadScoringInput", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{curated_bucket_arn}/{job.input_prefix}*"]},
        {
            "Sid": "ListScoringInputAndOutput",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [curated_bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [f"{job.input_prefix}*", f"{job.output_prefix}*"]}},
        },
        {
            "Sid": "WritePredictions",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{curated_bucket_arn}/{job.output_prefix}*"],
        },
        lake_key_statement(key_arn, ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]),
    ]
    return policy_document(statements)


class _PodIdentity:
    """A ServiceAccount in the team namespace mapped by EKS Pod Identity to a new IAM role."""

    def __init__(self, owner: pulumi.ComponentResource, name: str, role_name: str, description: str,
                 service_account: str, team: str, tagging: CostTagging, placement: ClusterPlacement, app: str,
                 policy: pulumi.Input[str]):
        self.role, self.association, _ = pod_identity_role(
            f"{name}-role",
            association_name=f"{name}-pod-identity",
            role_name=role_name,
            description=description,
            cluster_name=placement.cluster_name,
            namespace=placement.namespace,
            service_account=service_account,
            policy=policy,
            tags=tagging.resource_tags(COMPONENT, team),
            opts=pulumi.ResourceOptions(parent=owner),
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={"name": service_account, "namespace": placement.namespace, "labels": tagging.k8s_labels(COMPONENT, team, app=app)},
            # Pod Identity injects its own projected token; the API token is not needed.
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=owner, depends_on=[placement.namespace_resource] if placement.namespace_resource else None),
        )


class KubernetesEndpoint(pulumi.ComponentResource):
    """One model server on EKS, built from one `endpoints` entry with backend kubernetes."""

    def __init__(
        self,
        name: str,
        endpoint: EndpointConfig,
        facts: StackFacts,
        tagging: CostTagging,
        placement: ClusterPlacement,
        *,
        models_bucket_arn: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        image_uri: pulumi.Input[str],
        canary_image_uri: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("mlplatform:endpoints:KubernetesEndpoint", name, None, opts)
        serving = endpoint.kubernetes
        canary = serving.canary
        app = endpoint.name
        namespace = placement.namespace
        labels = tagging.k8s_labels(COMPONENT, endpoint.team, app=app)
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=[placement.namespace_resource] if placement.namespace_resource else None)
        service_account = f"endpoint-{endpoint.name}"

        models = [endpoint.model] + ([canary.model] if canary and canary.model else [])
        identity = _PodIdentity(
            self, name,
            role_name=f"{facts.name_prefix}-ep-{endpoint.name}",
            description=f"Pods of endpoint {endpoint.name}: read its model from the models zone",
            service_account=service_account, team=endpoint.team, tagging=tagging, placement=placement, app=app,
            policy=pulumi.Output.all(models_bucket_arn, kms_key_arn).apply(lambda args: endpoint_role_policy(models, args[0], args[1])),
        )
        self.role = identity.role

        def deployment(resource_name: str, track: str, image: pulumi.Input[str], image_ref: ImageRef, model: S3Location,
                       replicas: Optional[int]) -> k8s.apps.v1.Deployment:
            selector = {"app.kubernetes.io/name": app, TRACK_LABEL: track}
            volume, mount = scratch_volume()
            port = serving.port
            probe = {"httpGet": {"path": serving.health_path, "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5}
            pod_spec = {
                "serviceAccountName": service_account,
                "automountServiceAccountToken": False,
                "securityContext": pod_security_context(),
                "terminationGracePeriodSeconds": 30,
                # Spread replicas over zones so one AZ outage leaves the endpoint serving.
                "topologySpreadConstraints": [{
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": selector},
                }],
                "containers": [{
                    "name": "server",
                    "image": image,
                    "imagePullPolicy": "Always",
                    "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                    "env": _env({**dict(endpoint.environment), "MODEL_URI": model.uri, "AWS_REGION": facts.region, "PORT": str(port)}),
                    "resources": container_resources(serving.cpu, serving.memory, serving.gpus),
                    # Loading a model can take minutes; the startup probe holds the others off until then.
                    "startupProbe": {**probe, "failureThreshold": 30},
                    "livenessProbe": {**probe, "failureThreshold": 3},
                    "readinessProbe": {**probe, "failureThreshold": 2},
                    "securityContext": container_security_context(),
                    "volumeMounts": [mount],
                }],
                "volumes": [volume],
                **pod_scheduling(serving.gpus, placement),
            }
            spec: dict[str, Any] = {
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {**labels, TRACK_LABEL: track}},
                    "spec": pod_spec,
                },
            }
            if replicas is not None:
                spec["replicas"] = replicas
            return k8s.apps.v1.Deployment(
                resource_name,
                metadata={
                    "name": app if track == "stable" else f"{app}-{track}",
                    "namespace": namespace,
                    "labels": {**labels, TRACK_LABEL: track},
                    "annotations": image_pin_annotations(image_ref),
                },
                spec=spec,
                # Pods started before the association exists would run without credentials.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[identity.service_account, identity.association]),
            )

        def service(resource_name: str, service_name: str, track: str) -> k8s.core.v1.Service:
            return k8s.core.v1.Service(
                resource_name,
                metadata={"name": service_name, "namespace": namespace, "labels": {**labels, TRACK_LABEL: track}},
                spec={
                    "type": "ClusterIP",
                    "selector": {"app.kubernetes.io/name": app, TRACK_LABEL: track},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                },
                # The load balancer controller's Service webhook fails closed until the controller runs.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[r for r in (placement.namespace_resource, placement.load_balancer_controller) if r is not None],
                ),
            )

        # The HorizontalPodAutoscaler owns the stable replica count, so the Deployment leaves it unset.
        self.deployment = deployment(f"{name}-deployment", "stable", image_uri, endpoint.image, endpoint.model, None)
        self.service = service(f"{name}-service", app, "stable")
        self.canary_deployment = self.canary_service = None
        if canary is not None:
            self.canary_deployment = deployment(
                f"{name}-canary-deployment", "canary", canary_image_uri, canary.image, canary.model or endpoint.model, canary.replicas
            )
            self.canary_service = service(f"{name}-canary-service", f"{app}-canary", "canary")

        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": app, "namespace": namespace, "labels": labels},
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                "minReplicas": endpoint.min_capacity,
                "maxReplicas": endpoint.max_capacity,
                "metrics": [{
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": serving.target_cpu_utilization_percent}},
                }],
                # Scale in slowly: a model server that just left takes its warm cache with it.
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": app, "namespace": namespace, "labels": labels},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": app, TRACK_LABEL: "stable"}}},
            opts=after_namespace,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": f"endpoint-{app}", "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
                "policyTypes": ["Ingress", "Egress"],
                # The ALB sends from its interfaces inside the VPC (target type ip).
                "ingress": [{"from": [{"ipBlock": {"cidr": placement.vpc_cidr}}], "ports": [{"protocol": "TCP", "port": serving.port}]}],
                "egress": egress_rules(),
            },
            opts=after_namespace,
        )

        annotations = {
            "alb.ingress.kubernetes.io/scheme": "internal",
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/healthcheck-path": serving.health_path,
            "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}]),
            # The controller creates the load balancer, so provider default tags never reach it.
            "alb.ingress.kubernetes.io/tags": ",".join(f"{key}={value}" for key, value in sorted(tagging.all_tags(COMPONENT, endpoint.team).items())),
        }
        backend_service = {"name": app, "port": {"name": "http"}}
        if canary is not None:
            action = "weighted-routing"
            annotations[f"alb.ingress.kubernetes.io/actions.{action}"] = json.dumps({
                "type": "forward",
                "forwardConfig": {
                    "targetGroups": [
                        {"serviceName": app, "servicePort": "80", "weight": 100 - canary.weight_percent},
                        {"serviceName": f"{app}-canary", "servicePort": "80", "weight": canary.weight_percent},
                    ],
                    # Keep each client on one version so responses stay consistent across retries.
                    "targetGroupStickinessConfig": {"enabled": True, "durationSeconds": 300},
                },
            }, sort_keys=True)
            backend_service = {"name": action, "port": {"name": "use-annotation"}}
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={"name": app, "namespace": namespace, "labels": labels, "annotations": annotations},
            spec={
                "ingressClassName": placement.ingress_class_name,
                "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": backend_service}}]}}],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[r for r in (self.service, self.canary_service, placement.load_balancer_controller) if r is not None],
            ),
        )

        self.register_outputs({"roleArn": self.role.arn, "namespace": namespace, "service": app})


class BatchScoringJob(pulumi.ComponentResource):
    """A scheduled scoring job, built from one `batchJobs` entry of the stack config."""

    def __init__(
        self,
        name: str,
        job: BatchJobConfig,
        facts: StackFacts,
        tagging: CostTagging,
        placement: ClusterPlacement,
        *,
        models_bucket_arn: pulumi.Input[str],
        curated_bucket_name: str,
        curated_bucket_arn: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        image_uri: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("mlplatform:endpoints:BatchScoringJob", name, None, opts)
        app = f"batch-{job.name}"
        labels = tagging.k8s_labels(COMPONENT, job.team, app=app)
        service_account = app
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=[placement.namespace_resource] if placement.namespace_resource else None)

        identity = _PodIdentity(
            self, name,
            role_name=f"{facts.name_prefix}-job-{job.name}",
            description=f"Batch scoring job {job.name}: read its model and input, write predictions under {job.output_prefix}",
            service_account=service_account, team=job.team, tagging=tagging, placement=placement, app=app,
            policy=pulumi.Output.all(models_bucket_arn, curated_bucket_arn, kms_key_arn).apply(
                lambda args: batch_job_role_policy(job, args[0], args[1], args[2])
            ),
        )
        self.role = identity.role

        volume, mount = scratch_volume()
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"name": app, "namespace": placement.namespace, "labels": labels, "annotations": image_pin_annotations(job.image)},
            spec={
                "schedule": job.schedule,
                "timeZone": "Etc/UTC",
                # A run that overruns its slot finishes before the next starts; no pile-up on GPUs.
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": job.active_deadline_seconds,
                        "ttlSecondsAfterFinished": 86400,
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "serviceAccountName": service_account,
                                "automountServiceAccountToken": False,
                                "restartPolicy": "Never",
                                "securityContext": pod_security_context(),
                                "containers": [{
                                    "name": "score",
                                    "image": image_uri,
                                    "imagePullPolicy": "Always",
                                    "env": _env({
                                        **dict(job.environment),
                                        "MODEL_URI": job.model.uri,
                                        "INPUT_URI": f"s3://{curated_bucket_name}/{job.input_prefix}",
                                        "OUTPUT_URI": f"s3://{curated_bucket_name}/{job.output_prefix}",
                                        "AWS_REGION": facts.region,
                                    }),
                                    "resources": container_resources(job.cpu, job.memory, job.gpus),
                                    "securityContext": container_security_context(),
                                    "volumeMounts": [mount],
                                }],
                                "volumes": [volume],
                                **pod_scheduling(job.gpus, placement),
                            },
                        },
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[identity.service_account, identity.association]),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": app, "namespace": placement.namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],  # nothing calls a scoring job
                "egress": egress_rules(),
            },
            opts=after_namespace,
        )
        self.register_outputs({"roleArn": self.role.arn, "schedule": job.schedule})
