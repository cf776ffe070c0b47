"""Experiment tracking and drift monitoring settings, alone and against the rest of the stack."""

from __future__ import annotations

import pytest

from components.config import ConfigError, parse_config
from tests.conftest import stack_yaml


def _error(stack: str, edit) -> ConfigError:
    config = stack_yaml(stack)["config"]
    edit(config)
    with pytest.raises(ConfigError) as raised:
        parse_config(config, stack)
    return raised.value


def _parsed(stack: str, edit):
    config = stack_yaml(stack)["config"]
    edit(config)
    return parse_config(config, stack)


def test_a_stack_with_real_time_endpoints_must_track_experiments():
    error = _error("staging", lambda c: c.pop("mlplatform:experiments"))
    assert error.key == "mlplatform:experiments" and "demand-forecast" in error.message


def test_a_stack_whose_endpoints_capture_must_monitor_drift():
    error = _error("prod", lambda c: c.pop("mlplatform:monitoring"))
    assert error.key == "mlplatform:monitoring" and "demand-forecast, defect-detection" in error.message


def test_every_capturing_endpoint_needs_a_drift_job():
    error = _error("prod", lambda c: c["mlplatform:monitoring"]["driftJobs"].pop(1))
    assert error.key == "mlplatform:monitoring.driftJobs" and "'defect-detection' captures requests but has no drift job" in error.message


def test_a_drift_job_needs_a_capturing_endpoint():
    error = _error("staging", lambda c: c["mlplatform:monitoring"]["driftJobs"][0].update(endpoint="defect-detection"))
    assert error.key == "mlplatform:monitoring.driftJobs" or error.key.endswith("driftJobs[0].endpoint")
    error = _error("staging", lambda c: c["mlplatform:monitoring"]["driftJobs"][0].update(endpoint="nowhere"))
    assert error.key in ("mlplatform:monitoring.driftJobs", "mlplatform:monitoring.driftJobs[0].endpoint")


def test_one_drift_job_per_endpoint():
    def twice(c):
        jobs = c["mlplatform:monitoring"]["driftJobs"]
        jobs.append(dict(jobs[0]))
    error = _error("staging", twice)
    assert error.key == "mlplatform:monitoring.driftJobs[1].endpoint" and "duplicate" in error.message


def test_the_baseline_is_a_csv_object_in_the_lake():
    error = _error("staging", lambda c: c["mlplatform:monitoring"]["driftJobs"][0].update(baseline="s3://elsewhere-bucket/b.csv"))
    assert error.key == "mlplatform:monitoring.driftJobs[0].baseline" and "in the data lake" in error.message
    error = _error("staging", lambda c: c["mlplatform:monitoring"]["driftJobs"][0].update(baseline="s3://acme-mlplatform-staging-features/baselines/"))
    assert error.key == "mlplatform:monitoring.driftJobs[0].baseline" and "CSV object" in error.message


@pytest.mark.parametrize("key, value, expected", [
    ("psiThreshold", 0, "mlplatform:monitoring.driftJobs[0].psiThreshold"),
    ("pValueThreshold", 1.5, "mlplatform:monitoring.driftJobs[0].pValueThreshold"),
    ("schedule", "every hour", "mlplatform:monitoring.driftJobs[0].schedule"),
    ("features", ["price", "price"], "mlplatform:monitoring.driftJobs[0].features[1]"),
    ("features", ["1st"], "mlplatform:monitoring.driftJobs[0].features[0]"),
    ("alarmPeriodSeconds", 120, "mlplatform:monitoring.driftJobs[0].alarmPeriodSeconds"),
])
def test_bad_drift_job_values_name_their_key(key, value, expected):
    error = _error("staging", lambda c: c["mlplatform:monitoring"]["driftJobs"][0].update({key: value}))
    assert error.key == expected


def test_alert_emails_are_for_configured_teams():
    error = _error("staging", lambda c: c["mlplatform:monitoring"]["teamAlertEmails"].update({"marketing": ["m@acme.example"]}))
    assert error.key == "mlplatform:monitoring.teamAlertEmails.marketing"


def test_the_drift_image_comes_from_a_platform_repository():
    error = _error("staging", lambda c: c["mlplatform:monitoring"].update(image="nowhere:1.0.0"))
    assert error.key == "mlplatform:monitoring.image" and "not one of the platform's ECR repositories" in error.message


def test_a_capturing_kubernetes_endpoint_needs_the_capture_shipper():
    error = _error("dev", lambda c: c["mlplatform:monitoring"].pop("captureShipperImage"))
    assert error.key == "mlplatform:monitoring.captureShipperImage" and "defect-detection" in error.message


def test_kubernetes_endpoints_may_capture_but_not_set_capture_env_themselves():
    config = _parsed("dev", lambda c: None)
    assert next(e for e in config.endpoints if e.name == "defect-detection").capture.sampling_percent == 20
    error = _error("dev", lambda c: c["mlplatform:endpoints"][1].update(environment={"CAPTURE_DIR": "/x"}))
    assert error.key.endswith("environment.CAPTURE_DIR") and "reserved" in error.message


@pytest.mark.parametrize("key, value", [
    ("trackingServerSize", "Huge"),
    ("weeklyMaintenanceWindowStart", "TUE:03:30"),  # the API wants Tue
    ("weeklyMaintenanceWindowStart", "Tue:24:00"),
    ("mlflowVersion", "latest"),
    ("artifactPrefix", "mlflow"),
])
def test_bad_tracking_server_values_name_their_key(key, value):
    error = _error("staging", lambda c: c["mlplatform:experiments"].update({key: value}))
    assert error.key == f"mlplatform:experiments.{key}"


def test_defaults_of_the_tracking_server():
    config = _parsed("staging", lambda c: c.update({"mlplatform:experiments": {"weeklyMaintenanceWindowStart": "Sun:01:00"}}))
    assert (config.experiments.tracking_server_size, config.experiments.artifact_prefix, config.experiments.automatic_model_registration) == ("Small", "mlflow/", True)


def test_the_drift_role_name_fits_iam():
    def long_names(c):
        c["mlplatform:project"] = "a-rather-long-project"
        c["mlplatform:datalake"]["bucketPrefix"] = "acme-mlplatform-staging"
    config = stack_yaml("staging")["config"]
    long_names(config)
    long_endpoint = "demand-forecast-with-a-long-nam"[:30]  # fits `-ep-`, not `-drift-`
    config["mlplatform:endpoints"][0]["name"] = long_endpoint
    config["mlplatform:monitoring"]["driftJobs"][0]["endpoint"] = long_endpoint
    with pytest.raises(ConfigError) as raised:
        parse_config(config, "staging")
    assert raised.value.key == "mlplatform:monitoring.driftJobs[0].endpoint" and "64 characters" in raised.value.message
