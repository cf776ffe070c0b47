"""Endpoints: the models of the stack config serving predictions, online and in batches.

Each `mlplatform:endpoints` entry becomes one endpoint on its backend:
- `sagemaker` (default, `components/endpoints_sagemaker.py`): a SageMaker real-time or serverless
  endpoint with blue/green canary rollout, alarm-driven rollback, autoscaling and request capture
  into the data lake;
- `kubernetes` (`components/endpoints_kubernetes.py`): a hardened model server on the platform's
  EKS cluster behind an internal ALB, with an optional weighted canary.
Each `mlplatform:batchJobs` entry becomes a scheduled scoring CronJob on the cluster.

Captured requests and responses land in the lake's `artifacts` zone under
`captures/<team>/<endpoint>/`, encrypted with the lake key: that zone's lifecycle expiry bounds how
long captured payloads (which may hold personal data) are kept and what they cost, and only the
owning team (and the platform's administrators) can read them.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi

from components.config import CAPTURE_ZONE, SCORING_ZONE, BatchJobConfig, EndpointConfig, ImageRef
from components.batch_jobs import BatchScoringJob
from components.endpoints_kubernetes import KubernetesEndpoint
from components.endpoints_sagemaker import SageMakerEndpoint
from components.facts import StackFacts
from components.interfaces import ClusterAccess, ImageSource, LakeAccess
from components.tagging import CostTagging
from components.workloads import ClusterPlacement


class Endpoints(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        endpoints: tuple[EndpointConfig, ...],
        batch_jobs: tuple[BatchJobConfig, ...],
        facts: StackFacts,
        tagging: CostTagging,
        lake: LakeAccess,
        images: ImageSource,
        cluster: ClusterAccess,
        local_queue: Optional[str] = None,
        capture_shipper_image: Optional[ImageRef] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        """`local_queue`: the LocalQueue of every team namespace, where the stack runs Kueue; scheduled
        batch jobs are then queued within their team's quota like any other team work."""
        super().__init__("mlplatform:endpoints:Endpoints", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        models_bucket_arn = lake.bucket_arns["models"]
        kms_key_arn = lake.kms_key_arn

        self.sagemaker_endpoints: dict[str, SageMakerEndpoint] = {}
        self.kubernetes_endpoints: dict[str, KubernetesEndpoint] = {}
        self.batch_jobs: dict[str, BatchScoringJob] = {}

        for endpoint in endpoints:
            if endpoint.backend == "sagemaker":
                self.sagemaker_endpoints[endpoint.name] = SageMakerEndpoint(
                    f"{name}-{endpoint.name}",
                    endpoint,
                    facts,
                    tagging,
                    models_bucket_arn=models_bucket_arn,
                    # Config validation requires the capture zone whenever an endpoint captures.
                    capture_bucket_name=lake.bucket_names.get(CAPTURE_ZONE, ""),
                    capture_bucket_arn=lake.bucket_arns.get(CAPTURE_ZONE, ""),
                    kms_key_arn=kms_key_arn,
                    image_uri=images.image_uri(endpoint.image),
                    repository_arn=images.repository_arn(endpoint.image),
                    opts=child,
                )
            else:
                canary = endpoint.kubernetes.canary
                self.kubernetes_endpoints[endpoint.name] = KubernetesEndpoint(
                    f"{name}-{endpoint.name}",
                    endpoint,
                    facts,
                    tagging,
                    self._placement(cluster, endpoint.team, lake),
                    models_bucket_arn=models_bucket_arn,
                    kms_key_arn=kms_key_arn,
                    image_uri=images.image_uri(endpoint.image),
                    canary_image_uri=images.image_uri(canary.image) if canary else None,
                    # Model servers that capture write into the same layout; the shipper uploads it.
                    capture_bucket_name=lake.configured_bucket_names.get(CAPTURE_ZONE, ""),
                    capture_bucket_arn=lake.bucket_arns.get(CAPTURE_ZONE, ""),
                    capture_shipper_image=images.image_uri(capture_shipper_image) if capture_shipper_image else None,
                    opts=child,
                )

        for job in batch_jobs:
            self.batch_jobs[job.name] = BatchScoringJob(
                f"{name}-batch-{job.name}",
                job,
                facts,
                tagging,
                dataclasses.replace(self._placement(cluster, job.team, lake), local_queue=local_queue),
                models_bucket_arn=models_bucket_arn,
                curated_bucket_name=lake.configured_bucket_names[SCORING_ZONE],
                curated_bucket_arn=lake.bucket_arns[SCORING_ZONE],
                kms_key_arn=kms_key_arn,
                image_uri=images.image_uri(job.image),
                opts=child,
            )

        self.endpoint_names = {name_: e.endpoint.name for name_, e in self.sagemaker_endpoints.items()}
        self.role_arns = {
            **{name_: e.role.arn for name_, e in self.sagemaker_endpoints.items()},
            **{name_: e.role.arn for name_, e in self.kubernetes_endpoints.items()},
        }
        self.register_outputs({
            "sagemakerEndpointNames": self.endpoint_names,
            "endpointRoleArns": self.role_arns,
            "kubernetesEndpointNamespaces": {e.name: e.team for e in endpoints if e.backend == "kubernetes"},
            "batchJobs": sorted(self.batch_jobs),
        })

    @staticmethod
    def _placement(cluster: ClusterAccess, team: str, lake: LakeAccess) -> ClusterPlacement:
        return ClusterPlacement(
            cluster_name=cluster.cluster_name,
            namespace=cluster.team_namespaces[team],
            namespace_resource=cluster.namespace_resources.get(team),
            ingress_class_name=cluster.ingress_class_name,
            load_balancer_controller=cluster.load_balancer_controller,
            gpu_node_selector=dict(cluster.gpu_node_selector or {}),
            gpu_toleration=dict(cluster.gpu_toleration) if cluster.gpu_toleration else None,
            vpc_cidr=cluster.vpc_cidr,
            system_node_selector=dict(cluster.system_node_selector),
            access_log_bucket=lake.access_log_bucket_name,
            ingress_group=cluster.ingress_group,
        )
