"""CloudWatch figures computed by hand from the catalogue: logs by class, alarms by what AWS
counts (alarm metrics, resolution, anomaly bands, composites), and the GPU agent's custom
metrics as usage."""

from __future__ import annotations

from tests.mlp.cost.documents import cost_of, export, gpu_pool, node_class, priced, resource, usd


def test_log_group_ingest_storage_and_queries(tmp_path):
    document = export(resource("aws:cloudwatch/logGroup:LogGroup", "logs"))
    usage = {"resource_usage": {"logs": {"monthly_data_ingested_gb": 10, "storage_gb": 100, "monthly_data_scanned_gb": 200}}}
    assert cost_of(document, "logs", usage, tmp_path).monthly_cost == usd("5.00") + usd("3.00") + usd("1.00")
    infrequent = export(resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"logGroupClass": "INFREQUENT_ACCESS"}))
    assert cost_of(infrequent, "logs", usage, tmp_path).monthly_cost == 10 * usd("0.25") + usd("3.00") + usd("1.00")


def alarm(name: str, **inputs) -> dict:
    return resource("aws:cloudwatch/metricAlarm:MetricAlarm", name, inputs)


def metric(query_id: str, period: int = 60) -> dict:
    return {"id": query_id, "metric": {"metricName": "Invocations", "namespace": "AWS/SageMaker", "period": period, "stat": "Sum"}}


def test_alarms_cost_per_alarm_metric_by_resolution():
    document = export(
        alarm("standard", metricName="CPUUtilization", namespace="AWS/EC2", period=60),
        alarm("high-resolution", metricName="CPUUtilization", namespace="AWS/EC2", period=10),
        # Metric math: every metric the expression reads is an alarm metric; the expression is not.
        alarm("error-rate", metricQueries=[metric("errors"), metric("calls"), metric("timeouts"), {"id": "rate", "expression": "(errors+timeouts)/calls", "returnData": True}]),
        alarm("mixed", metricQueries=[metric("fast", 10), metric("slow"), {"id": "sum", "expression": "fast+slow", "returnData": True}]),
        alarm("anomaly", metricQueries=[metric("m1"), {"id": "band", "expression": "ANOMALY_DETECTION_BAND(m1, 2)"}], thresholdMetricId="band"),
        resource("aws:cloudwatch/compositeAlarm:CompositeAlarm", "rollup", {"alarmRule": "ALARM(standard) OR ALARM(error-rate)"}),
    )
    costs = {c.resource.name: c.monthly_cost for c in priced(document).costs}
    assert costs == {
        "standard": usd("0.10"),
        "high-resolution": usd("0.30"),
        "error-rate": 3 * usd("0.10"),
        "mixed": usd("0.30") + usd("0.10"),
        "anomaly": 3 * usd("0.10"),  # the metric and the band's two bounds
        "rollup": usd("0.50"),
    }


def gpu_agent(pool: str = "gpu", publish_seconds: str = "60") -> dict:
    labels = {"app.kubernetes.io/name": "gpu-agent", "mlplatform.io/team": "ml-platform"}
    return resource("kubernetes:apps/v1:DaemonSet", f"agent-{pool}", {"metadata": {"name": f"gpu-agent-{pool}", "labels": labels}, "spec": {"template": {"spec": {
        "containers": [{"name": "gpu-agent", "args": ["--cluster", "c", "--node-pool", pool, "--publish-seconds", publish_seconds]}]}}}})


def test_gpu_agent_metrics_are_usage_priced_from_the_pools_node_hours(tmp_path):
    document = export(node_class(), gpu_pool({"nvidia.com/gpu": 8}), gpu_agent(),
                      resource("kubernetes:apps/v1:DaemonSet", "other", {"metadata": {"name": "node-exporter"}}))
    usage = {"resource_usage": {"gpu-pool": {"monthly_node_hrs": 1200}}}
    result = priced(document, usage, tmp_path)
    agent = next(c for c in result.costs if c.resource.name == "agent-gpu")
    metrics, requests = agent.components
    # 5 metrics (GPUs, IdleGPUs, GPUUtilization, GPUMemoryUtilization, PublishPeriodSeconds) for
    # one instance type, sent in at least 730 of the month's hours: 5 metric-months at $0.30.
    assert metrics.monthly_cost == 5 * usd("0.30")
    # One PutMetricData a node a minute: 1200 h x 60 = 72,000 requests at $0.01 per 1,000.
    assert requests.monthly_cost == usd("0.72")
    assert metrics.usage_key == requests.usage_key == "monthly_node_hrs (of node pool gpu)"
    assert all(c.resource.name != "other" for c in result.costs)


def test_gpu_agent_usage_of_its_own_and_prorated_metric_hours(tmp_path):
    document = export(node_class(), gpu_pool({"nvidia.com/gpu": 8}), gpu_agent(publish_seconds="30"))
    usage = {"resource_usage": {"agent-gpu": {"monthly_node_hrs": 365, "instance_types": 2}}}
    metrics, requests = cost_of(document, "agent-gpu", usage, tmp_path).components
    assert metrics.quantity == 10 * usd("0.5")  # 2 instance types x 5 metrics, sent half the month
    assert metrics.ceiling_cost == 10 * usd("0.30")
    assert requests.monthly_cost == 365 * 120 * usd("0.01") / 1000


def test_custom_metric_tiers_apply_to_the_stacks_total(tmp_path):
    document = export(node_class(), gpu_pool({"nvidia.com/gpu": 8}), gpu_agent())
    usage = {"resource_usage": {"agent-gpu": {"monthly_node_hrs": 730, "instance_types": 2500}}}
    metrics = cost_of(document, "agent-gpu", usage, tmp_path).components[0]
    # 12,500 metrics: 10,000 at $0.30 and 2,500 at $0.10.
    assert metrics.monthly_cost == 10_000 * usd("0.30") + 2_500 * usd("0.10")
    assert "volume tiers" in metrics.name
