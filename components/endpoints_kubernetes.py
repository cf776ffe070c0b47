"""Model serving on the platform's EKS cluster.

`KubernetesEndpoint`: a hardened Deployment behind a Service and an ALB Ingress, scaled by a
HorizontalPodAutoscaler between the configured bounds, protected by a PodDisruptionBudget and a
NetworkPolicy, with its own ServiceAccount that EKS Pod Identity maps to a role reading only its
model. A canary is a second Deployment and Service; the ALB splits traffic by the configured weight.
The ALB listens on HTTPS only with the environment's certificate, takes requests only from the
configured networks, logs access, and can require sign-in through an OIDC provider
(components/load_balancers.py). Pods are hardened as every team workload is (components/workloads.py).
"""

from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import EndpointConfig, ImageRef, S3Location
from components.endpoint_capture import (
    HEALTH_PORT as SHIPPER_HEALTH_PORT,
    capture_environment,
    capture_volumes,
    capture_write_statement,
    server_capture_mount,
    shipper_config,
    shipper_container,
)
from components.endpoints_sagemaker import lake_key_statement, model_read_statements
from components.facts import StackFacts
from components.iam import policy_document
from components.lineage import lineage_annotations
from components.load_balancers import SHARED_ALB_COMPONENT, alb_annotations, oidc_annotations, oidc_client_secret
from components.tagging import CostTagging
from components.workloads import (
    COMPONENT,
    TRACK_LABEL,
    ClusterPlacement,
    PodIdentity,
    container_resources,
    container_security_context,
    egress_rules,
    env_list,
    image_pin_annotations,
    pod_scheduling,
    pod_security_context,
    scratch_volume,
)


def endpoint_role_policy(model_locations: list[S3Location], models_bucket_arn: str, key_arn: str, region: str,
                         capture: Optional[dict] = None) -> str:
    """Read its models; with capture, also put objects under its capture prefix (encrypting them)."""
    statements: list[dict] = []
    for i, location in enumerate(model_locations):
        for statement in model_read_statements(models_bucket_arn, location):
            statements.append({**statement, "Sid": f"{statement['Sid']}{i}"})
    key_actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:GenerateDataKey"] if capture else [])
    statements.append(lake_key_statement(key_arn, key_actions, region))
    if capture:
        statements.append(capture)
    return policy_document(statements)


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
        capture_bucket_name: str = "",
        capture_bucket_arn: pulumi.Input[str] = "",
        capture_shipper_image: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        super().__init__("mlplatform:endpoints:KubernetesEndpoint", name, None, opts)
        # Captures go where SageMaker's do (components/endpoint_capture.py); config requires the shipper.
        captures = endpoint.capture is not None and capture_shipper_image is not None
        serving = endpoint.kubernetes
        canary = serving.canary
        app = endpoint.name
        namespace = placement.namespace
        labels = tagging.k8s_labels(COMPONENT, endpoint.team, app=app)
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=[placement.namespace_resource] if placement.namespace_resource else None)
        service_account = f"endpoint-{endpoint.name}"

        models = [endpoint.model] + ([canary.model] if canary and canary.model else [])
        identity = PodIdentity(
            self, name,
            role_name=f"{facts.name_prefix}-ep-{endpoint.name}",
            description=f"Pods of endpoint {endpoint.name}: read its model from the models zone",
            service_account=service_account, team=endpoint.team, facts=facts, tagging=tagging, placement=placement, app=app,
            policy=pulumi.Output.all(models_bucket_arn, kms_key_arn, capture_bucket_arn).apply(lambda args: endpoint_role_policy(
                models, args[0], args[1], facts.region, capture_write_statement(args[2], endpoint) if captures else None)),
        )
        self.role = identity.role

        def deployment(resource_name: str, track: str, image: pulumi.Input[str], image_ref: ImageRef, model: S3Location,
                       replicas: Optional[int]) -> k8s.apps.v1.Deployment:
            selector = {"app.kubernetes.io/name": app, TRACK_LABEL: track}
            volume, mount = scratch_volume()
            port = serving.port
            server_env = {**dict(endpoint.environment), "MODEL_URI": model.uri, "AWS_REGION": facts.region, "PORT": str(port)}
            volumes, server_mounts, sidecars = [volume], [mount], []
            if captures:
                config_map_name = f"{app}-{track}-capture-shipper"
                k8s.core.v1.ConfigMap(
                    f"{resource_name}-capture-shipper",
                    metadata={"name": config_map_name, "namespace": namespace, "labels": {**labels, TRACK_LABEL: track}},
                    data=shipper_config(endpoint=endpoint, endpoint_name=f"{facts.name_prefix}-{endpoint.name}", track=track,
                                        bucket=capture_bucket_name, region=facts.region),
                    opts=after_namespace,
                )
                server_env.update(capture_environment(endpoint, f"{facts.name_prefix}-{endpoint.name}"))
                volumes += capture_volumes(config_map_name)
                server_mounts.append(server_capture_mount())
                sidecars.append(shipper_container(capture_shipper_image, container_security_context(), facts.region))
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
                    "env": env_list(server_env),
                    "resources": container_resources(serving.cpu, serving.memory, serving.gpus),
                    # Loading a model can take minutes; the startup probe holds the others off until then.
                    "startupProbe": {**probe, "failureThreshold": 30},
                    "livenessProbe": {**probe, "failureThreshold": 3},
                    "readinessProbe": {**probe, "failureThreshold": 2},
                    "securityContext": container_security_context(),
                    "volumeMounts": server_mounts,
                }, *sidecars],
                "volumes": volumes,
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
                    "annotations": {**image_pin_annotations(image_ref), **lineage_annotations(model, facts.name_prefix)},
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
                "ingress": [{"from": [{"ipBlock": {"cidr": placement.vpc_cidr}}], "ports": [{"protocol": "TCP", "port": serving.port}]
                             + ([{"protocol": "TCP", "port": SHIPPER_HEALTH_PORT}] if captures else [])}],
                "egress": egress_rules(),
            },
            opts=after_namespace,
        )

        public = serving.ingress
        annotations = {
            **alb_annotations(
                name=f"endpoints/{endpoint.name}", scheme=public.scheme, certificate_arn=public.certificate_arn,
                allowed_cidrs=public.allowed_cidrs, log_bucket=placement.access_log_bucket,
                deletion_protection=public.deletion_protection, waf_acl_arn=public.waf_acl_arn,
                tags=tagging.all_tags(COMPONENT, endpoint.team), group=placement.ingress_group, shared_tags=tagging.all_tags(SHARED_ALB_COMPONENT),
            ),
            "alb.ingress.kubernetes.io/healthcheck-path": serving.health_path,
        }
        ingress_needs = [r for r in (self.service, placement.load_balancer_controller) if r is not None]
        if public.auth is not None:
            secret_name = f"{app}-oidc-client"
            annotations.update(oidc_annotations(public.auth, secret_name))
            ingress_needs.append(oidc_client_secret(f"{name}-oidc-client", public.auth, name=secret_name, namespace=namespace,
                                                    labels=labels, opts=after_namespace))
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
                "rules": [{**({"host": public.hostname} if public.hostname else {}),
                           "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": backend_service}}]}}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=ingress_needs + ([self.canary_service] if self.canary_service else [])),
        )

        self.register_outputs({"roleArn": self.role.arn, "namespace": namespace, "service": app})
