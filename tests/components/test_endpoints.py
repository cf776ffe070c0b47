"""Endpoints from stack config: both backends in every stack, cost tags on everything, and bad
endpoint or batch-job config refused before any resource with one line naming file and key."""

from __future__ import annotations

import dataclasses
from typing import Callable

import pytest

from components.config import ConfigError, parse_config
from components.tagging import REQUIRED_TAG_KEYS, is_taggable
from mlp.stackfile import read_stack_config
from tests.conftest import planned, run_mlp, stack_yaml


def test_both_backends_and_batch_jobs_come_from_config(stack):
    plan = planned(stack)
    backends = {endpoint.backend for endpoint in plan.config.endpoints}
    assert backends == {"sagemaker", "kubernetes"}
    components = [r for r in plan.resources if r.type.startswith("mlplatform:endpoints:")]
    kinds = sorted(r.type.rsplit(":", 1)[-1] for r in components)
    expected = sorted(
        ["Endpoints"]
        + ["SageMakerEndpoint" if e.backend == "sagemaker" else "KubernetesEndpoint" for e in plan.config.endpoints]
        + ["BatchScoringJob"] * len(plan.config.batch_jobs)
    )
    assert kinds == expected


def test_every_endpoint_resource_carries_all_cost_tags(stack):
    plan = planned(stack)
    mine = [r for r in plan.resources if r.custom and r.component == "endpoints"]
    taggable = [r for r in mine if is_taggable(r.type)]
    assert taggable and [r for r in mine if r.type.startswith("kubernetes:")]
    owners = {e.team for e in plan.config.endpoints} | {j.team for j in plan.config.batch_jobs}
    for resource in taggable:
        assert set(REQUIRED_TAG_KEYS) <= set(resource.tags), resource.urn
        assert resource.tags["Component"] == "endpoints"
        assert resource.tags["Team"] in owners
    assert not [r.urn for r in mine if r.urn in plan.tag_coverage.missing or r.urn in plan.label_coverage.missing]
    assert plan.complete


def _edit_endpoint(endpoint_name: str, **changes) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        endpoint = next(e for e in config["mlplatform:endpoints"] if e["name"] == endpoint_name)
        for key, value in changes.items():
            if value is None:
                endpoint.pop(key, None)
            else:
                endpoint[key] = value

    return edit


def _edit_job(**changes) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config["mlplatform:batchJobs"][0].update(changes)

    return edit


def _edit_serving_ingress(change: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        change(next(e for e in config["mlplatform:endpoints"] if e.get("backend") == "kubernetes")["kubernetes"]["ingress"])

    return edit


# (stack, edit, key the error must name, words the message must contain)
BAD_ENDPOINTS = [
    ("staging", _edit_endpoint("demand-forecast", minCapacity=3, maxCapacity=2), "mlplatform:endpoints[0].maxCapacity", "must be >= minCapacity"),
    ("dev", _edit_endpoint("defect-detection", maxCapacity=0), "mlplatform:endpoints[1].maxCapacity", ">= 1"),
    ("dev", _edit_endpoint("demand-forecast", backend="lambda"), "mlplatform:endpoints[0].backend", "expected one of sagemaker, kubernetes"),
    ("staging", _edit_endpoint("demand-forecast", instanceType="ml.p5.48xlarge"), "mlplatform:endpoints[0].instanceType", "not offered for SageMaker hosting in us-east-1"),
    ("prod", _edit_endpoint("defect-detection", instanceType="ml.m5.large.x"), "mlplatform:endpoints[1].instanceType", "SageMaker instance type"),
    ("staging", _edit_endpoint("demand-forecast", model="s3://someone-elses-bucket/model.tar.gz"), "mlplatform:endpoints[0].model", "models zone"),
    ("staging", _edit_endpoint("demand-forecast", model="s3://acme-mlplatform-staging-curated/model.tar.gz"), "mlplatform:endpoints[0].model", "s3://acme-mlplatform-staging-models/"),
    ("staging", _edit_endpoint("demand-forecast", model="https://example.com/model.tar.gz"), "mlplatform:endpoints[0].model", "S3 URI"),
    ("prod", _edit_endpoint("demand-forecast", model="arn:aws:sagemaker:us-west-2:123456789012:model-package/unknown-group/1"), "mlplatform:endpoints[0].model", "not one of the platform's"),
    ("prod", _edit_endpoint("demand-forecast", model="arn:aws:sagemaker:eu-west-1:123456789012:model-package/mlplatform-prod-demand-forecast/1"), "mlplatform:endpoints[0].model", "eu-west-1"),
    ("dev", _edit_endpoint("demand-forecast", team="marketing"), "mlplatform:endpoints[0].team", "unknown team"),
    ("dev", _edit_endpoint("demand-forecast", image="inference:1.0"), "mlplatform:endpoints[0].image", "not one of the platform's ECR repositories"),
    ("dev", _edit_endpoint("demand-forecast", image="serving:latest"), "mlplatform:endpoints[0].image", "latest"),
    ("dev", _edit_endpoint("demand-forecast", image="serving"), "mlplatform:endpoints[0].image", "pinned"),
    ("dev", _edit_endpoint("demand-forecast", image="ghcr.io/acme/serving:1.0"), "mlplatform:endpoints[0].image", "ECR only"),
    ("dev", _edit_endpoint("demand-forecast", capture={"samplingPercent": 10}), "mlplatform:endpoints[0].capture", "serverless"),
    ("dev", _edit_endpoint("demand-forecast", minCapacity=1), "mlplatform:endpoints[0].minCapacity", "serverless"),
    ("dev", _edit_endpoint("demand-forecast", rollout={"canaryPercent": 10, "waitSeconds": 60}), "mlplatform:endpoints[0].rollout", "only for real-time endpoints"),
    ("dev", _edit_endpoint("demand-forecast", serverless={"memorySizeMb": 1500, "maxConcurrency": 5}), "mlplatform:endpoints[0].serverless.memorySizeMb", "1024, 2048"),
    ("staging", _edit_endpoint("demand-forecast", capture=None), "mlplatform:endpoints[0].capture", "required"),
    ("staging", _edit_endpoint("demand-forecast", capture={"samplingPercent": 0}), "mlplatform:endpoints[0].capture.samplingPercent", ">= 1"),
    ("staging", _edit_endpoint("demand-forecast", rollout={"canaryPercent": 80, "waitSeconds": 60}), "mlplatform:endpoints[0].rollout.canaryPercent", "<= 50"),
    ("staging", _edit_endpoint("demand-forecast", rollout={"canaryPercent": 10, "waitSeconds": 60}), "mlplatform:endpoints[0].rollout.canaryPercent", "more than half of a 1-instance fleet"),
    ("staging", _edit_endpoint("demand-forecast", rollout={"waitSeconds": 3600, "maximumExecutionTimeoutSeconds": 1800}), "mlplatform:endpoints[0].rollout.waitSeconds", "shorter than"),
    ("prod", _edit_endpoint("demand-forecast", alarms={"max5xxErrors": 10, "maxModelLatencyMs": 500, "periodSeconds": 10}), "mlplatform:endpoints[0].alarms.periodSeconds", "expected one of 60, 120, 300, 600"),
    ("staging", _edit_endpoint("demand-forecast", kubernetes={"cpu": "1"}), "mlplatform:endpoints[0].kubernetes", "applies only to backend kubernetes"),
    ("dev", _edit_endpoint("defect-detection", instanceType="ml.m5.large"), "mlplatform:endpoints[1].instanceType", "applies only to backend sagemaker"),
    ("dev", _edit_endpoint("defect-detection", replicas=2), "mlplatform:endpoints[1].replicas", "unknown key"),
    ("dev", _edit_endpoint("defect-detection", maxCapacity=40), "mlplatform:endpoints[1].maxCapacity", "quota"),
    ("dev", _edit_endpoint("defect-detection", environment={"MODEL_URI": "s3://x/y"}), "mlplatform:endpoints[1].environment.MODEL_URI", "set by the platform"),
    ("dev", _edit_endpoint("defect-detection", name="demand-forecast"), "mlplatform:endpoints[1].name", "duplicate endpoint"),
    ("dev", _edit_serving_ingress(lambda ingress: ingress.pop("allowedCidrs")), "mlplatform:endpoints[1].kubernetes.ingress.allowedCidrs", "required"),
    ("dev", _edit_serving_ingress(lambda ingress: ingress.update(allowedCidrs=["0.0.0.0/0"])), "mlplatform:endpoints[1].kubernetes.ingress.allowedCidrs[0]", "whole internet"),
    ("dev", _edit_serving_ingress(lambda ingress: ingress.pop("certificateArn")), "mlplatform:endpoints[1].kubernetes.ingress.certificateArn", "required"),
    ("dev", _edit_serving_ingress(lambda ingress: ingress.update(auth={"issuer": "https://login.acme.example"})),
     "mlplatform:endpoints[1].kubernetes.ingress.auth.authorizationEndpoint", "required"),
    ("dev", _edit_job(schedule="every night"), "mlplatform:batchJobs[0].schedule", "cron schedule"),
    ("dev", _edit_job(schedule="61 3 * * *"), "mlplatform:batchJobs[0].schedule", "cron schedule"),
    ("dev", _edit_job(outputPrefix="teams/vision/predictions/"), "mlplatform:batchJobs[0].outputPrefix", "teams/forecasting/"),
    ("dev", _edit_job(model="s3://acme-mlplatform-dev-raw/model.tar.gz"), "mlplatform:batchJobs[0].model", "models zone"),
    ("dev", _edit_job(team="marketing", outputPrefix="teams/marketing/predictions/"), "mlplatform:batchJobs[0].team", "unknown team"),
    ("dev", _edit_job(inputPrefix="teams/forecasting/sales"), "mlplatform:batchJobs[0].inputPrefix", "ending in '/'"),
]


@pytest.mark.parametrize("stack,edit,key,words", BAD_ENDPOINTS, ids=[f"{case[2]}-{i}" for i, case in enumerate(BAD_ENDPOINTS)])
def test_bad_endpoint_config_names_its_key(stack, edit, key, words, write_stack):
    document = stack_yaml(stack)
    edit(document["config"])
    path = write_stack(stack, document)
    with pytest.raises(ConfigError) as error:
        parse_config(read_stack_config(path), stack)
    assert error.value.key == key
    assert words in error.value.message


@pytest.mark.parametrize("stack,edit,key,words", [BAD_ENDPOINTS[i] for i in (0, 2, 3, 5)])
def test_mlp_plan_refuses_bad_endpoint_config_with_exit_2(stack, edit, key, words, write_stack):
    document = stack_yaml(stack)
    edit(document["config"])
    path = write_stack(stack, document)
    result = run_mlp("plan", stack, "--config-file", str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path.name) in lines[0] and key in lines[0] and words in lines[0]
    assert "Traceback" not in result.stderr


def test_a_gpu_endpoint_needs_a_gpu_pool():
    from components.config import _check_gpus

    config = planned("dev").config
    without_gpus = dataclasses.replace(config, cluster=dataclasses.replace(config.cluster, node_pools=tuple(p for p in config.cluster.node_pools if not p.gpu)))
    _check_gpus("mlplatform:endpoints[1].kubernetes.gpus", 1, config)  # dev has a GPU pool
    _check_gpus("mlplatform:endpoints[1].kubernetes.gpus", 0, without_gpus)
    with pytest.raises(ConfigError) as error:
        _check_gpus("mlplatform:endpoints[1].kubernetes.gpus", 1, without_gpus)
    assert "no GPU node pool" in error.value.message


def test_cpu_serving_needs_a_cpu_pool():
    from components.config import _check_gpus

    config = planned("dev").config
    only_gpus = dataclasses.replace(config, cluster=dataclasses.replace(config.cluster, node_pools=tuple(p for p in config.cluster.node_pools if p.gpu)))
    _check_gpus("mlplatform:batchJobs[0].gpus", 1, only_gpus)  # GPU work still has its pool
    with pytest.raises(ConfigError) as error:
        _check_gpus("mlplatform:batchJobs[0].gpus", 0, only_gpus)
    assert error.value.key == "mlplatform:batchJobs[0].gpus" and "no CPU node pool" in error.value.message


def test_endpoints_are_optional(write_stack):
    document = stack_yaml("dev")
    document["config"].pop("mlplatform:endpoints")
    document["config"].pop("mlplatform:batchJobs")
    document["config"].pop("mlplatform:monitoring")  # its drift jobs watch the endpoints
    config = parse_config(read_stack_config(write_stack("dev", document)), "dev")
    assert config.endpoints == () and config.batch_jobs == ()


@pytest.mark.parametrize("value,repository,uri,reference", [
    ("serving:2025.11.0", "serving", None, ":2025.11.0"),
    ("serving@sha256:" + "a" * 64, "serving", None, "@sha256:" + "a" * 64),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/serving:1.0", None, "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/serving", ":1.0"),
    ("ghcr.io/acme/server:v3", None, "ghcr.io/acme/server", ":v3"),
])
def test_image_references(value, repository, uri, reference):
    from components.config import image_ref

    image = image_ref(value, "k")
    assert (image.repository, image.uri, image.reference) == (repository, uri, reference)


def test_full_ecr_uris_name_their_repository_for_pull_permissions():
    from components.config import image_ref
    from components.interfaces import image_repository_arn

    image = image_ref("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/serving:1.0", "k")
    assert image_repository_arn(image, {}) == "arn:aws:ecr:us-east-1:123456789012:repository/team/serving"
    assert image_ref("ghcr.io/acme/server:v3", "k").ecr_repository_arn_parts is None
