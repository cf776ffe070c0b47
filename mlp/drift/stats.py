"""Drift of one feature: population stability index and the two-sample Kolmogorov-Smirnov test.

PSI compares the share of values in each bin of the baseline with the share in the captured
window: `sum((actual - expected) * ln(actual / expected))` over bins cut at the baseline's
quantiles, so every bin holds about the same share of the baseline. The usual reading: below 0.1
no shift, 0.1-0.25 a moderate one, above 0.25 a significant one. Empty bins get a small floor
share so the logarithm stays finite. The KS test (scipy) adds a distribution-free p-value: a
small one says the two samples are unlikely to come from one distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

DEFAULT_BINS = 10
# Share given to a bin with no values, so ln(actual / expected) stays finite.
EMPTY_BIN_SHARE = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks_statistic: float
    ks_p_value: float
    baseline_count: int
    current_count: int
    drifted: bool

    def as_json(self) -> dict:
        return {
            "feature": self.feature,
            "populationStabilityIndex": round(self.psi, 6),
            "ksStatistic": round(self.ks_statistic, 6),
            "ksPValue": self.ks_p_value,
            "baselineCount": self.baseline_count,
            "currentCount": self.current_count,
            "drifted": self.drifted,
        }


def bin_edges(baseline: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Inner cut points at the baseline's quantiles (repeated quantiles of discrete data merged)."""
    # `lower` keeps cut points on observed values, so discrete features get no cut between values.
    quantiles = np.quantile(baseline, np.linspace(0, 1, bins + 1)[1:-1], method="lower")
    return np.unique(quantiles)


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Bin i holds edges[i-1] < v <= edges[i]; the outer bins are open-ended.
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    share = counts / max(len(values), 1)
    return np.maximum(share, EMPTY_BIN_SHARE)


def population_stability_index(baseline: np.ndarray, current: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    edges = bin_edges(baseline, bins)
    expected = shares(baseline, edges)
    actual = shares(current, edges)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def feature_drift(feature: str, baseline: list[float], current: list[float], psi_threshold: float, p_value_threshold: float,
                  bins: int = DEFAULT_BINS) -> FeatureDrift:
    """Drifted when PSI reaches its threshold or the KS p-value falls below its threshold."""
    if not baseline or not current:
        raise ValueError(f"feature {feature!r}: no values in the {'baseline' if not baseline else 'captured window'}")
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    psi = population_stability_index(base, cur, bins)
    test = stats.ks_2samp(base, cur)
    p_value = float(test.pvalue)
    statistic = float(test.statistic)
    if not (math.isfinite(psi) and math.isfinite(statistic) and math.isfinite(p_value)):
        raise ValueError(f"feature {feature!r}: drift statistics are not finite")
    return FeatureDrift(
        feature=feature,
        psi=psi,
        ks_statistic=statistic,
        ks_p_value=p_value,
        baseline_count=len(base),
        current_count=len(cur),
        drifted=psi >= psi_threshold or p_value < p_value_threshold,
    )
