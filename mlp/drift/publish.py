"""What a drift run leaves behind: CloudWatch metrics for the alarms and a JSON report in the lake.

Metrics go to the `MLPlatform/Drift` namespace (components/monitoring.py alarms on them):

| metric | dimensions | unit | meaning |
|---|---|---|---|
| `PopulationStabilityIndex` | EndpointName, Feature | None | PSI of one feature against the baseline |
| `KSStatistic` | EndpointName, Feature | None | two-sample Kolmogorov-Smirnov statistic |
| `MaxPopulationStabilityIndex` | EndpointName | None | the largest PSI of any feature |
| `DriftedFeatures` | EndpointName | Count | features over a threshold |
| `CapturedRows` | EndpointName | Count | rows compared (0: nothing captured in the window) |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from mlp.aws import call

if TYPE_CHECKING:
    from mlp.drift.stats import FeatureDrift

NAMESPACE = "MLPlatform/Drift"  # components/monitoring.py alarms on this namespace
# PutMetricData takes up to 1000 metrics per request; stay well below.
METRICS_PER_REQUEST = 100


@dataclass(frozen=True)
class DriftResult:
    endpoint: str
    window_start: Optional[datetime]
    window_end: datetime
    records: int
    rows: int
    skipped_records: int
    unreadable_values: int
    min_rows: int
    psi_threshold: float
    p_value_threshold: float
    features: tuple[FeatureDrift, ...]

    @property
    def evaluated(self) -> bool:
        """Enough rows were captured to say anything about drift."""
        return self.rows >= self.min_rows and bool(self.features)

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.drifted)

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.features), default=0.0)

    def report(self) -> dict:
        status = ("drift" if self.drifted else "no-drift") if self.evaluated else "insufficient-data"
        return {
            "endpoint": self.endpoint,
            "status": status,
            "windowStart": self.window_start.isoformat() if self.window_start else None,
            "windowEnd": self.window_end.isoformat(),
            "capturedRecords": self.records,
            "capturedRows": self.rows,
            "skippedRecords": self.skipped_records,
            "unreadableValues": self.unreadable_values,
            "minRows": self.min_rows,
            "thresholds": {"populationStabilityIndex": self.psi_threshold, "ksPValue": self.p_value_threshold},
            "maxPopulationStabilityIndex": round(self.max_psi, 6) if self.evaluated else None,
            "driftedFeatures": list(self.drifted) if self.evaluated else [],
            "features": [f.as_json() for f in self.features] if self.evaluated else [],
        }


def metric_data(result: DriftResult) -> list[dict]:
    """The datapoints of one run. Without enough rows only the row count is published: the
    drift alarms then see no data (treated as not breaching) instead of a made-up zero."""
    endpoint = {"Name": "EndpointName", "Value": result.endpoint}
    when = result.window_end
    data = [{"MetricName": "CapturedRows", "Dimensions": [endpoint], "Timestamp": when, "Value": float(result.rows), "Unit": "Count"}]
    if not result.evaluated:
        return data
    data += [
        {"MetricName": "MaxPopulationStabilityIndex", "Dimensions": [endpoint], "Timestamp": when, "Value": result.max_psi, "Unit": "None"},
        {"MetricName": "DriftedFeatures", "Dimensions": [endpoint], "Timestamp": when, "Value": float(len(result.drifted)), "Unit": "Count"},
    ]
    for feature in result.features:
        dimensions = [endpoint, {"Name": "Feature", "Value": feature.feature}]
        data += [
            {"MetricName": "PopulationStabilityIndex", "Dimensions": dimensions, "Timestamp": when, "Value": feature.psi, "Unit": "None"},
            {"MetricName": "KSStatistic", "Dimensions": dimensions, "Timestamp": when, "Value": feature.ks_statistic, "Unit": "None"},
        ]
    return data


def publish_metrics(cloudwatch: Any, result: DriftResult, namespace: str = NAMESPACE) -> int:
    data = metric_data(result)
    for start in range(0, len(data), METRICS_PER_REQUEST):
        call(cloudwatch, "put_metric_data", Namespace=namespace, MetricData=data[start:start + METRICS_PER_REQUEST])
    return len(data)


def report_text(result: DriftResult) -> str:
    return json.dumps(result.report(), indent=2, sort_keys=True) + "\n"


def report_name(result: DriftResult) -> str:
    """`yyyy/mm/dd/HHMMSSZ.json`: reports of one endpoint sort by time under its prefix."""
    return result.window_end.strftime("%Y/%m/%d/%H%M%SZ") + ".json"
