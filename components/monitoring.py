"""Drift monitoring: for every endpoint that captures requests, a scheduled `mlp drift` job on the
cluster, the drift metrics it publishes, and alarms that reach people.

Each drift job is a CronJob in the owning team's namespace running the drift image
(images/drift, `python -m mlp.drift`). It reads the captures of the last window from
`captures/<team>/<endpoint>/` of the artifacts zone (SageMaker's data capture, or the capture
shipper of a Kubernetes endpoint: the same layout and record format), compares every configured
feature with the baseline CSV (PSI and a two-sample KS test), publishes per-feature and overall
metrics to CloudWatch (`MLPlatform/Drift`) and writes a JSON report under
`drift-reports/<team>/<endpoint>/`. Its Pod Identity role can read exactly those captures and the
baseline, write exactly that report prefix, and put metrics into that namespace only.

A CloudWatch alarm per endpoint fires when a run finds a drifted feature (`DriftedFeatures` >= 1)
and notifies the platform's alert topic and the owning team's drift topic (email subscriptions from
config). The team topics are encrypted with a key CloudWatch may use only for this account's alarms.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import CAPTURE_ZONE, EndpointConfig
from components.config.monitoring import DriftJobConfig, MonitoringConfig
from components.facts import StackFacts
from components.iam import account_id_of, pod_identity_role, policy_document, source_condition, via_services
from components.interfaces import ClusterAccess, ImageSource, LakeAccess
from components.keys import service_key
from components.tagging import CostTagging
from components.workloads import (
    container_resources,
    egress_rules,
    image_pin_annotations,
    scheduled_job_spec,
    ClusterPlacement,
)

COMPONENT = "monitoring"
METRIC_NAMESPACE = "MLPlatform/Drift"  # must match mlp.drift.publish.NAMESPACE
DRIFT_METRIC = "DriftedFeatures"


def drift_app(endpoint: str) -> str:
    return f"drift-{endpoint}"


def report_prefix(settings: MonitoringConfig, endpoint: EndpointConfig) -> str:
    return f"{settings.report_prefix}{endpoint.team}/{endpoint.name}/"


def alarm_source(account_id: str) -> dict:
    """Only CloudWatch acting for this account's alarms."""
    return source_condition(account_id, f"arn:aws:cloudwatch:*:{account_id}:alarm:*")


def drift_job_policy(*, job: DriftJobConfig, endpoint: EndpointConfig, capture_bucket_arn: str, baseline_bucket_arn: str,
                     reports: str, key_arn: str, region: str) -> str:
    """Read the endpoint's captures and its baseline, write its reports, publish drift metrics."""
    captures = endpoint.capture_prefix
    return policy_document([
        {"Sid": "ListCaptures", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [capture_bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": [f"{captures}*"]}}},
        {"Sid": "ReadCaptures", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{capture_bucket_arn}/{captures}*"]},
        {"Sid": "ReadBaseline", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{baseline_bucket_arn}/{job.baseline.key}"]},
        {"Sid": "WriteReports", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"{capture_bucket_arn}/{reports}*"]},
        {"Sid": "UseLakeKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": [key_arn],
         "Condition": via_services("s3", region=region)},
        # PutMetricData has no resource type; the namespace condition scopes it.
        {"Sid": "PublishDriftMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": ["*"],
         "Condition": {"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}}},
    ])


def drift_args(job: DriftJobConfig, endpoint: EndpointConfig, capture_bucket: str, reports: str, region: str) -> list[str]:
    """The command line of one run (`python -m mlp.drift ...`)."""
    return [
        "--endpoint", endpoint.name,
        "--captures", f"s3://{capture_bucket}/{endpoint.capture_prefix}",
        "--baseline", job.baseline.uri,
        "--features", ",".join(job.features),
        "--window-hours", str(job.window_hours),
        "--psi-threshold", f"{job.psi_threshold:g}",
        "--p-value", f"{job.p_value_threshold:g}",
        "--min-rows", str(job.min_rows),
        "--report", f"s3://{capture_bucket}/{reports}",
        "--region", region,
    ]


def alert_key_statements(account_id: str) -> list[dict]:
    return [{"Sid": "CloudWatchAlarmsPublishEncrypted", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*", "Condition": alarm_source(account_id)}]


class DriftMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, settings: MonitoringConfig, endpoints: tuple[EndpointConfig, ...], facts: StackFacts, tagging: CostTagging,
                 lake: LakeAccess, images: ImageSource, cluster: ClusterAccess, alert_topic_arn: pulumi.Input[str],
                 local_queue: Optional[str] = None, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlplatform:monitoring:DriftMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account_id = account_id_of(self)
        by_name = {endpoint.name: endpoint for endpoint in endpoints}
        jobs = [(job, by_name[job.endpoint]) for job in settings.drift_jobs]
        teams = sorted({endpoint.team for _, endpoint in jobs})

        # --- who hears of drift: the platform's alert topic and a topic per owning team ------------
        self.alert_key = service_key(
            f"{name}-alerts", description=f"Encryption of the {facts.name_prefix} drift alert topics", alias=f"{facts.name_prefix}-drift-alerts",
            statements=alert_key_statements, deletion_window_days=30, tags=tagging.resource_tags(COMPONENT), opts=child,
        )
        self.team_topics: dict[str, aws.sns.Topic] = {}
        for team in teams:
            topic = aws.sns.Topic(f"{name}-{team}", name=f"{facts.name_prefix}-{team}-drift-alerts", kms_master_key_id=self.alert_key.arn,
                                  tags=tagging.resource_tags(COMPONENT, team), opts=child)
            aws.sns.TopicPolicy(
                f"{name}-{team}",
                arn=topic.arn,
                policy=pulumi.Output.all(topic.arn, account_id).apply(lambda args: policy_document([{
                    "Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "SNS:Publish", "Resource": args[0], "Condition": alarm_source(args[1]),
                }])),
                opts=child,
            )
            for i, email in enumerate(settings.alert_emails_of(team)):
                aws.sns.TopicSubscription(f"{name}-{team}-{i}", topic=topic.arn, protocol="email", endpoint=email, opts=child)
            self.team_topics[team] = topic

        # --- one job and one alarm per capturing endpoint ------------------------------------------
        image = images.image_uri(settings.image)
        capture_bucket = lake.configured_bucket_names[CAPTURE_ZONE]
        bucket_arn_of = {lake.configured_bucket_names[zone]: arn for zone, arn in lake.bucket_arns.items()}
        self.cron_jobs: dict[str, k8s.batch.v1.CronJob] = {}
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for job, endpoint in jobs:
            app = drift_app(endpoint.name)
            reports = report_prefix(settings, endpoint)
            labels = tagging.k8s_labels(COMPONENT, endpoint.team, app=app)
            namespace = cluster.team_namespaces[endpoint.team]
            in_namespace = [cluster.namespace_resources[endpoint.team]] if endpoint.team in cluster.namespace_resources else []
            role, association, _ = pod_identity_role(
                f"{name}-{endpoint.name}",
                role_name=f"{facts.name_prefix}-drift-{endpoint.name}",
                facts=facts,
                description=f"Drift job of endpoint {endpoint.name}: read its captures and baseline, write its reports, publish drift metrics",
                cluster_name=cluster.cluster_name,
                namespace=namespace,
                service_account=app,
                policy=pulumi.Output.all(lake.bucket_arns[CAPTURE_ZONE], bucket_arn_of[job.baseline.bucket], lake.kms_key_arn).apply(
                    lambda args, job=job, endpoint=endpoint, reports=reports: drift_job_policy(
                        job=job, endpoint=endpoint, capture_bucket_arn=args[0], baseline_bucket_arn=args[1], reports=reports,
                        key_arn=args[2], region=facts.region,
                    )),
                tags=tagging.resource_tags(COMPONENT, endpoint.team),
                opts=child,
            )
            with_k8s = pulumi.ResourceOptions(parent=self, depends_on=in_namespace)
            service_account = k8s.core.v1.ServiceAccount(
                f"{name}-{endpoint.name}",
                metadata={"name": app, "namespace": namespace, "labels": labels},
                # Pod Identity projects its own token; the job never calls the Kubernetes API.
                automount_service_account_token=False,
                opts=with_k8s,
            )
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{endpoint.name}",
                metadata={"name": app, "namespace": namespace, "labels": labels},
                spec={"podSelector": {"matchLabels": {"app.kubernetes.io/name": app}}, "policyTypes": ["Ingress", "Egress"],
                      "ingress": [], "egress": egress_rules()},
                opts=with_k8s,
            )
            placement = ClusterPlacement(
                cluster_name=cluster.cluster_name, namespace=namespace, namespace_resource=None, ingress_class_name=cluster.ingress_class_name,
                load_balancer_controller=None, gpu_node_selector={}, gpu_toleration=None, vpc_cidr=cluster.vpc_cidr,
                system_node_selector=dict(cluster.system_node_selector), local_queue=local_queue,
            )
            self.cron_jobs[endpoint.name] = self._cron_job(f"{name}-{endpoint.name}", job, app, namespace, labels, image, settings, placement,
                                                           drift_args(job, endpoint, capture_bucket, reports, facts.region), facts.region,
                                                           [service_account, association, *in_namespace])
            self.alarms[endpoint.name] = aws.cloudwatch.MetricAlarm(
                f"{name}-{endpoint.name}",
                name=f"{facts.name_prefix}-{endpoint.name}-drift",
                alarm_description=(f"Captured requests of endpoint {endpoint.name} drifted from the baseline {job.baseline.uri}: "
                                   f"see the report under s3://{capture_bucket}/{reports}"),
                namespace=METRIC_NAMESPACE,
                metric_name=DRIFT_METRIC,
                dimensions={"EndpointName": endpoint.name},
                statistic="Maximum",
                period=job.alarm_period_seconds,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                # Between runs, and with too few captured rows, there is no datapoint: not drift.
                treat_missing_data="notBreaching",
                alarm_actions=[alert_topic_arn, self.team_topics[endpoint.team].arn],
                ok_actions=[self.team_topics[endpoint.team].arn],
                tags=tagging.resource_tags(COMPONENT, endpoint.team),
                opts=child,
            )

        self.register_outputs({
            "driftJobs": sorted(self.cron_jobs),
            "alarmNames": {endpoint: alarm.name for endpoint, alarm in self.alarms.items()},
            "teamAlertTopicArns": {team: topic.arn for team, topic in self.team_topics.items()},
        })

    def _cron_job(self, resource_name: str, job: DriftJobConfig, app: str, namespace: str, labels: dict, image: pulumi.Input[str],
                  settings: MonitoringConfig, placement: ClusterPlacement, args: list[str], region: str,
                  needs: list[pulumi.Resource]) -> k8s.batch.v1.CronJob:
        return k8s.batch.v1.CronJob(
            resource_name,
            metadata={"name": app, "namespace": namespace, "labels": labels, "annotations": image_pin_annotations(settings.image)},
            spec=scheduled_job_spec(job.schedule, job.active_deadline_seconds, labels, placement, app, {
                "name": "drift",
                "image": image,
                "args": args,
                "env": [{"name": "AWS_REGION", "value": region}],
                "resources": container_resources(job.cpu, job.memory, 0),
            }),
            opts=pulumi.ResourceOptions(parent=self, depends_on=needs),
        )
