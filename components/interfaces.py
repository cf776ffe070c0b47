"""What one capability hands another: small typed records of exactly the outputs others read.

A component that builds on another receives one of these instead of the other component, so its
signature says what it depends on, and component modules never import each other's classes (this
module imports no component). The producing component builds its record once, at the end of its
constructor; the platform passes it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.config import ImageRef


@dataclass(frozen=True)
class NetworkPlacement:
    """Where the cluster runs: the VPC and its private subnets."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    vpc_cidr: str


@dataclass(frozen=True)
class LakeAccess:
    """The data lake's key, zone buckets and team roles, by zone and team name."""

    kms_key_arn: pulumi.Output[str]
    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]
    team_role_arns: dict[str, pulumi.Output[str]]
    # The same names as plain strings, known from config: for values that need not wait on a bucket.
    configured_bucket_names: dict[str, str]
    # Where the platform's load balancers write their access logs (components/load_balancers.py).
    access_log_bucket_name: str


@dataclass(frozen=True)
class ImageSource:
    """The platform's ECR repositories, by family, and how configured images resolve against them."""

    repository_urls: dict[str, pulumi.Output[str]]
    repository_arns: dict[str, pulumi.Output[str]]

    def image_uri(self, image: ImageRef) -> pulumi.Input[str]:
        """The pullable reference of a configured image: a platform repository's URL, or the URI itself."""
        if image.repository is not None:
            return self.repository_urls[image.repository].apply(lambda url: f"{url}{image.reference}")
        return f"{image.uri}{image.reference}"

    def repository_arn(self, image: ImageRef) -> pulumi.Input[str]:
        """The ECR repository an image is pulled from (config validation guarantees it is ECR)."""
        return image_repository_arn(image, self.repository_arns)


def image_repository_arn(image: ImageRef, platform_repository_arns: dict[str, pulumi.Input[str]]) -> pulumi.Input[str]:
    if image.repository is not None:
        return platform_repository_arns[image.repository]
    region, account, repository = image.ecr_repository_arn_parts
    return f"arn:aws:ecr:{region}:{account}:repository/{repository}"


@dataclass(frozen=True)
class ClusterAccess:
    """What workloads on the cluster need from it: where to schedule, store, expose and wait."""

    cluster_name: pulumi.Output[str]
    k8s_provider: pulumi.ProviderResource
    system_node_selector: dict[str, str]
    gpu_node_selector: dict[str, str]
    gpu_toleration: Optional[dict[str, str]]
    gpu_pool_names: tuple[str, ...]
    storage_class_name: str
    # Volumes need the tagged StorageClass to exist before their claims are made.
    storage_class: pulumi.Resource
    ingress_class_name: str
    # Its webhooks fail closed: Services and Ingresses wait until the controller is up.
    load_balancer_controller: pulumi.Resource
    team_namespaces: dict[str, str]
    namespace_resources: dict[str, pulumi.Resource]
    vpc_cidr: str
    # The ingress group every platform Ingress joins where the stack shares one ALB (cluster.sharedLoadBalancer).
    ingress_group: Optional[str] = None
