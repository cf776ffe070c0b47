"""Shared quantities of the estimator: Kubernetes resource quantities."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost import kubernetes_quantity


def test_kubernetes_quantities():
    assert kubernetes_quantity("100Gi") == 100 * 2**30
    assert kubernetes_quantity("500m") == Decimal("0.5")
    assert kubernetes_quantity(8.0) == 8
    assert kubernetes_quantity("lots") is None

