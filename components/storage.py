"""EBS-backed StorageClasses: encrypted gp3 volumes that carry their owner's cost tags.

AWS does not copy provider default tags onto volumes the EBS CSI driver creates from PVCs, so each
class names the tags its volumes get. A team's volumes need a class of their own to be billed to
the team: the driver can template only a PVC's name and namespace into tags, not its labels.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

EBS_CSI_PROVISIONER = "ebs.csi.aws.com"


def ebs_storage_class(
    resource_name: str,
    class_name: str,
    labels: dict[str, str],
    tag_parameters: dict[str, str],
    opts: pulumi.ResourceOptions,
    default: bool = False,
) -> k8s.storage.v1.StorageClass:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=class_name, labels=labels, annotations=annotations),
        provisioner=EBS_CSI_PROVISIONER,
        parameters={"type": "gp3", "encrypted": "true", **tag_parameters},
        # Volumes are created in the AZ of the node the pod lands on, never stranded elsewhere.
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Delete",
        opts=opts,
    )
