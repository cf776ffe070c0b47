"""Batch scoring on the platform's EKS cluster.

`BatchScoringJob`: a CronJob, hardened as every team workload is (components/workloads.py), that
reads the curated zone and writes its predictions back under the team's prefix of it, through a
role allowed exactly that.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import BatchJobConfig
from components.endpoints_sagemaker import lake_key_statement, model_read_statements
from components.facts import StackFacts
from components.iam import policy_document
from components.tagging import CostTagging
from components.workloads import (
    COMPONENT,
    ClusterPlacement,
    PodIdentity,
    container_resources,
    egress_rules,
    env_list,
    image_pin_annotations,
    scheduled_job_spec,
)


def batch_job_role_policy(job: BatchJobConfig, models_bucket_arn: str, curated_bucket_arn: str, key_arn: str, region: str) -> str:
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
        lake_key_statement(key_arn, ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], region),
    ]
    return policy_document(statements)


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

        identity = PodIdentity(
            self, name,
            role_name=f"{facts.name_prefix}-job-{job.name}",
            description=f"Batch scoring job {job.name}: read its model and input, write predictions under {job.output_prefix}",
            service_account=service_account, team=job.team, facts=facts, tagging=tagging, placement=placement, app=app,
            policy=pulumi.Output.all(models_bucket_arn, curated_bucket_arn, kms_key_arn).apply(
                lambda args: batch_job_role_policy(job, args[0], args[1], args[2], facts.region)
            ),
        )
        self.role = identity.role

        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"name": app, "namespace": placement.namespace, "labels": labels, "annotations": image_pin_annotations(job.image)},
            spec=scheduled_job_spec(job.schedule, job.active_deadline_seconds, labels, placement, service_account, {
                "name": "score",
                "image": image_uri,
                "env": env_list({
                    **dict(job.environment),
                    "MODEL_URI": job.model.uri,
                    "INPUT_URI": f"s3://{curated_bucket_name}/{job.input_prefix}",
                    "OUTPUT_URI": f"s3://{curated_bucket_name}/{job.output_prefix}",
                    "AWS_REGION": facts.region,
                }),
                "resources": container_resources(job.cpu, job.memory, job.gpus),
            }, gpus=job.gpus),
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
