"""PSI and the KS test on samples with known drift and without."""

from __future__ import annotations

import numpy as np
import pytest

from mlp.drift.stats import EMPTY_BIN_SHARE, bin_edges, feature_drift, population_stability_index, shares


def test_psi_of_a_sample_against_itself_is_zero_and_grows_with_the_shift():
    rng = np.random.default_rng(7)
    base = rng.normal(0, 1, 20000)
    same = rng.normal(0, 1, 5000)
    assert population_stability_index(base, base) == pytest.approx(0.0, abs=1e-12)
    small = population_stability_index(base, rng.normal(0.1, 1, 5000))
    large = population_stability_index(base, rng.normal(1.0, 1, 5000))
    assert population_stability_index(base, same) < 0.02
    assert 0.005 < small < 0.1 < 0.25 < large


def test_psi_matches_the_formula_on_a_hand_made_case():
    base = np.array([1.0, 2.0, 3.0, 4.0])
    edges = bin_edges(base, bins=2)
    assert list(edges) == [2.0]  # bins (-inf, 2] and (2, inf)
    current = np.array([1.0, 1.0, 1.0, 4.0])
    expected, actual = np.array([0.5, 0.5]), np.array([0.75, 0.25])
    assert population_stability_index(base, current, bins=2) == pytest.approx(float(np.sum((actual - expected) * np.log(actual / expected))))


def test_empty_bins_get_a_floor_share_so_psi_stays_finite():
    edges = np.array([0.0, 1.0])
    assert list(shares(np.array([5.0, 6.0]), edges)) == [EMPTY_BIN_SHARE, EMPTY_BIN_SHARE, 1.0]
    assert np.isfinite(population_stability_index(np.arange(100.0), np.full(50, 1000.0)))


def test_discrete_features_merge_repeated_cut_points():
    base = np.array([0.0] * 80 + [1.0] * 20)
    assert list(bin_edges(base)) == [0.0, 1.0]


def test_drift_is_flagged_by_psi_or_by_the_ks_p_value():
    rng = np.random.default_rng(11)
    base = list(rng.normal(0, 1, 5000))
    steady = feature_drift("x", base, list(rng.normal(0, 1, 2000)), psi_threshold=0.2, p_value_threshold=0.001)
    shifted = feature_drift("x", base, list(rng.normal(1.0, 1, 2000)), psi_threshold=0.2, p_value_threshold=0.001)
    assert not steady.drifted and steady.ks_p_value > 0.001
    assert shifted.drifted and shifted.psi > 0.2 and shifted.ks_p_value < 1e-10
    # A small shift in a large sample: PSI stays low, the KS test still sees it.
    subtle = feature_drift("x", base, list(rng.normal(0.2, 1, 20000)), psi_threshold=0.2, p_value_threshold=0.001)
    assert subtle.psi < 0.2 and subtle.drifted
    assert (shifted.baseline_count, shifted.current_count) == (5000, 2000)


def test_a_feature_without_values_is_an_error():
    with pytest.raises(ValueError, match="captured window"):
        feature_drift("x", [1.0], [], 0.2, 0.001)


def test_the_command_default_bins_are_the_statistics_default():
    import mlp.drift
    from mlp.drift.stats import DEFAULT_BINS

    assert mlp.drift.DEFAULT_BINS == DEFAULT_BINS


def test_other_commands_start_without_numpy_and_scipy():
    import subprocess
    import sys

    probe = "import sys; from mlp.cli import build_parser; build_parser(); print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
