"""CloudWatch on the bill: log ingestion (by log class), storage and Insights queries; alarms by
what AWS counts (one alarm metric per metric an alarm evaluates, at the standard or the
high-resolution rate, three per anomaly-detection band, composite alarms apart); and the custom
metrics the platform publishes itself (the GPU agent's `MLPlatform/GPU`), which are usage."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.core import HOURS_PER_MONTH, NUMBER, ZERO, CostComponent, pricer, to_decimal
from mlp.cost.tiers import first_tier_price
from mlp.gpu_agent import NAMESPACE as GPU_NAMESPACE
from mlp.gpu_agent import AgentSettings, WindowSummary, metric_data

HIGH_RESOLUTION_BELOW_SECONDS = 60  # periods of 10 or 30 s make an alarm high resolution
ANOMALY_BAND_METRICS = 3  # the evaluated metric and the band's upper and lower bound
CUSTOM_METRIC_TIERS = ("cloudwatch", "customMetricMonthTiers")
GPU_AGENT_APP = "gpu-agent"  # components/gpu_monitoring.py APP, the DaemonSets' app.kubernetes.io/name
GPU_METRICS_PER_DIMENSION_SET = len(metric_data(WindowSummary(0, 0, 0.0, 0.0), {}, 60, 0.0))


@pricer("aws:cloudwatch/logGroup:LogGroup", storage_gb=NUMBER, monthly_data_ingested_gb=NUMBER, monthly_data_scanned_gb=NUMBER)
def _log_group(resource, usage, ctx):
    # CreateLogGroup's logGroupClass is STANDARD unless INFREQUENT_ACCESS (cheaper ingestion).
    infrequent = str(resource.inputs.get("logGroupClass") or "STANDARD").upper() == "INFREQUENT_ACCESS"
    return [
        CostComponent(f"Data ingested ({'infrequent access' if infrequent else 'standard'} class)", "GB",
                      ctx.price("cloudwatch", "logsIngestGbInfrequentAccess" if infrequent else "logsIngestGb"),
                      to_decimal(usage.get("monthly_data_ingested_gb")), usage_key="monthly_data_ingested_gb"),
        CostComponent("Archival storage", "GB-months", ctx.price("cloudwatch", "logsStorageGbMonth"), to_decimal(usage.get("storage_gb")), usage_key="storage_gb"),
        CostComponent("Insights queries data scanned", "GB", ctx.price("cloudwatch", "logsScannedGb"), to_decimal(usage.get("monthly_data_scanned_gb")),
                      usage_key="monthly_data_scanned_gb"),
    ]


def _alarm_metrics(inputs: dict) -> tuple[int, int, bool]:
    """(standard-resolution alarm metrics, high-resolution ones, anomaly detection) of an alarm."""
    queries = [q for q in inputs.get("metricQueries") or [] if isinstance(q, dict)]
    if not queries:
        high = to_decimal(inputs.get("period"), Decimal(60)) < HIGH_RESOLUTION_BELOW_SECONDS
        return (0, 1, False) if high else (1, 0, False)
    anomaly = any("ANOMALY_DETECTION_BAND" in str(q.get("expression") or "").upper() for q in queries) or bool(inputs.get("thresholdMetricId"))
    standard = high = 0
    for query in queries:
        metric = query.get("metric")
        if not isinstance(metric, dict):
            continue  # an expression is not a metric; the metrics it reads are counted
        if to_decimal(metric.get("period"), Decimal(60)) < HIGH_RESOLUTION_BELOW_SECONDS:
            high += 1
        else:
            standard += 1
    return standard, high, anomaly


@pricer("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm(resource, usage, ctx):
    standard, high, anomaly = _alarm_metrics(resource.inputs)
    factor = ANOMALY_BAND_METRICS if anomaly else 1
    what = "anomaly detection alarm metrics (3 per metric)" if anomaly else "alarm metrics"
    components = []
    if standard:
        components.append(CostComponent(f"Standard resolution {what}", "alarm-metric-months", ctx.price("cloudwatch", "alarmMonth"), Decimal(standard * factor)))
    if high:
        components.append(CostComponent(f"High resolution {what}", "alarm-metric-months", ctx.price("cloudwatch", "highResolutionAlarmMonth"), Decimal(high * factor)))
    return components


@pricer("aws:cloudwatch/compositeAlarm:CompositeAlarm")
def _composite_alarm(resource, usage, ctx):
    return [CostComponent("Composite alarm", "alarm-months", ctx.price("cloudwatch", "compositeAlarmMonth"), Decimal(1))]


def _argument(args: list, flag: str) -> str | None:
    for index, arg in enumerate(args[:-1]):
        if arg == flag:
            return str(args[index + 1])
    return None


def _agent_container(resource) -> dict | None:
    metadata = resource.inputs.get("metadata") or {}
    labels = (metadata.get("labels") or {}) if isinstance(metadata, dict) else {}
    if labels.get("app.kubernetes.io/name") != GPU_AGENT_APP:
        return None
    pod = (((resource.inputs.get("spec") or {}).get("template") or {}).get("spec") or {})
    containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
    return containers[0] if containers else {}


@pricer("kubernetes:apps/v1:DaemonSet", monthly_node_hrs=NUMBER, instance_types=NUMBER)
def _daemon_set(resource, usage, ctx):
    """The GPU agent publishes its metrics per (cluster, node pool, instance type): each such set
    is GPU_METRICS_PER_DIMENSION_SET custom metrics, prorated by the hours they are sent (at
    most the pool's node-hours, at most the month), and each node sends one PutMetricData a
    window. Node-hours default to the pool's own `monthly_node_hrs`. Other DaemonSets run on
    nodes priced elsewhere."""
    container = _agent_container(resource)
    if container is None:
        return []
    args = [str(a) for a in container.get("args") or []]
    publish_seconds = to_decimal(_argument(args, "--publish-seconds"), Decimal(AgentSettings.publish_seconds)) or Decimal(60)
    pool_name = _argument(args, "--node-pool")
    node_hours = usage.get("monthly_node_hrs")
    key = "monthly_node_hrs"
    if node_hours is None and pool_name in ctx.node_pools:
        node_hours = ctx.usage_of(ctx.node_pools[pool_name]).get("monthly_node_hrs")
        key = f"monthly_node_hrs (of node pool {pool_name})"
    hours = to_decimal(node_hours)
    dimension_sets = to_decimal(usage.get("instance_types"), Decimal(1))
    metrics = GPU_METRICS_PER_DIMENSION_SET * dimension_sets
    return [
        CostComponent(f"Custom metrics ({GPU_NAMESPACE}, {GPU_METRICS_PER_DIMENSION_SET} per instance type)", "metric-months",
                      first_tier_price(ctx.catalogue, CUSTOM_METRIC_TIERS), metrics * min(hours, HOURS_PER_MONTH) / HOURS_PER_MONTH, ceiling_quantity=metrics,
                      usage_key=key, tier=CUSTOM_METRIC_TIERS),
        CostComponent(f"PutMetricData requests (one per node every {publish_seconds.normalize():f} s)", "1k requests", ctx.price("cloudwatch", "putMetricDataPer1k"),
                      hours * 3600 / publish_seconds / 1000, usage_key=key),
    ] if metrics > ZERO else []
