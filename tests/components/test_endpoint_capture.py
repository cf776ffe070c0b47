"""Kubernetes endpoints capture like SageMaker ones: the model server writes capture records, a
Fluent Bit sidecar ships them to `captures/<team>/<endpoint>/...`, where `mlp drift` reads them."""

from __future__ import annotations

import json
import re

import pytest

from components.endpoint_capture import CAPTURE_DIR, PARSERS_FILE, SHIPPER_CONFIG_DIR, SHIPPER_CONFIG_FILE
from mlp.drift.capture import CaptureRows, read_capture_lines
from tests.components.iam_eval import allowed
from tests.conftest import planned

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _capturing_kubernetes_endpoints(stack):
    config = planned(stack).config
    return [e for e in config.endpoints if e.backend == "kubernetes" and e.capture is not None]


def _sections(conf: str) -> list[tuple[str, dict]]:
    """The classic Fluent Bit format: [SECTION] headers, then `key value` lines."""
    sections: list[tuple[str, dict]] = []
    for line in conf.splitlines():
        if not line.strip():
            continue
        header = re.fullmatch(r"\[(\w+)\]", line.strip())
        if header:
            sections.append((header[1], {}))
        else:
            key, value = line.split(None, 1)
            sections[-1][1][key] = value
    return sections


def test_dev_has_a_capturing_kubernetes_endpoint():
    assert _capturing_kubernetes_endpoints("dev")


@pytest.mark.parametrize("stack", ["dev"])
def test_the_model_server_writes_captures_and_the_shipper_uploads_them(stack):
    plan = planned(stack)
    config = plan.config
    bucket = config.datalake.bucket_name("artifacts")
    for endpoint in _capturing_kubernetes_endpoints(stack):
        (deployment,) = [d for d in plan.run.by_type(DEPLOYMENT) if d.inputs["metadata"]["name"] == endpoint.name]
        pod = deployment.inputs["spec"]["template"]["spec"]
        server, shipper = pod["containers"]
        env = {e["name"]: e["value"] for e in server["env"]}
        assert env["CAPTURE_DIR"] == CAPTURE_DIR
        assert env["CAPTURE_SAMPLING_PERCENT"] == str(endpoint.capture.sampling_percent)
        assert {"name": "captures", "mountPath": CAPTURE_DIR} in server["volumeMounts"]
        assert shipper["image"] == f"{config.monitoring.capture_shipper_image.uri}:{config.monitoring.capture_shipper_image.tag}"
        assert shipper["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "captures", "mountPath": CAPTURE_DIR, "readOnly": True} in shipper["volumeMounts"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["captures"]["emptyDir"]["medium"] == "Memory"
        config_map_name = volumes["capture-shipper-config"]["configMap"]["name"]
        (config_map,) = [c for c in plan.run.by_type("kubernetes:core/v1:ConfigMap") if c.inputs["metadata"]["name"] == config_map_name]
        assert shipper["args"] == ["-c", f"{SHIPPER_CONFIG_DIR}/{SHIPPER_CONFIG_FILE}"]
        sections = dict(_sections(config_map.inputs["data"][SHIPPER_CONFIG_FILE]))
        assert sections["INPUT"]["Name"] == "tail" and sections["INPUT"]["Path"] == f"{CAPTURE_DIR}/*.jsonl"
        output = sections["OUTPUT"]
        assert (output["Name"], output["bucket"], output["region"]) == ("s3", bucket, config.region)
        assert output["json_date_key"] == "false"
        # SageMaker's layout under the endpoint's capture prefix, which the drift job lists.
        assert output["s3_key_format"] == f"/captures/{endpoint.team}/{endpoint.name}/{config.name_prefix}-{endpoint.name}/stable/%Y/%m/%d/%H/$UUID.jsonl"
        (job,) = [j for j in plan.run.by_type("kubernetes:batch/v1:CronJob") if j.inputs["metadata"]["name"] == f"drift-{endpoint.name}"]
        (drift,) = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        captures = dict(zip(drift["args"][::2], drift["args"][1::2]))["--captures"]
        assert f"s3://{bucket}{output['s3_key_format']}".startswith(captures)
        parsers = dict(_sections(config_map.inputs["data"][PARSERS_FILE]))
        assert parsers["PARSER"] == {"Name": sections["INPUT"]["Parser"], "Format": "json"}


def test_the_endpoint_role_writes_only_its_own_captures():
    plan = planned("dev")
    config = plan.config
    artifacts = f"arn:aws:s3:::{config.datalake.bucket_name('artifacts')}"
    for endpoint in _capturing_kubernetes_endpoints("dev"):
        (role,) = [r for r in plan.run.by_type("aws:iam/role:Role") if r.inputs.get("name") == f"{config.name_prefix}-ep-{endpoint.name}"]
        (policy,) = [json.loads(p.inputs["policy"]) for p in plan.run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
        own = f"{artifacts}/captures/{endpoint.team}/{endpoint.name}/x/stable/2026/11/29/10/a.jsonl"
        assert allowed(policy, "s3:PutObject", own)
        assert not allowed(policy, "s3:GetObject", own)
        assert not allowed(policy, "s3:PutObject", f"{artifacts}/captures/{endpoint.team}/another-endpoint/a.jsonl")
        assert not allowed(policy, "s3:PutObject", f"{artifacts}/drift-reports/{endpoint.team}/{endpoint.name}/a.json")
        key = next(s for s in policy["Statement"] if s["Sid"] == "UseLakeKey")
        assert "kms:GenerateDataKey" in key["Action"]


def test_endpoints_that_do_not_capture_get_no_shipper(stack):
    plan = planned(stack)
    for endpoint in plan.config.endpoints:
        if endpoint.backend != "kubernetes" or endpoint.capture is not None:
            continue
        for deployment in plan.run.by_type(DEPLOYMENT):
            if deployment.inputs["metadata"]["name"] in (endpoint.name, f"{endpoint.name}-canary"):
                assert [c["name"] for c in deployment.inputs["spec"]["template"]["spec"]["containers"]] == ["server"]


def test_a_record_of_the_documented_contract_is_what_mlp_drift_reads():
    """docs/monitoring.md's example record, as a model server writes it, read by the drift job."""
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                              "data": json.dumps({"instances": [{"brightness": 0.4, "contrast": 1.2}]}), "encoding": "JSON"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "data": "{\"predictions\": [0.1]}", "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": "3b4c", "inferenceTime": "2026-11-29T10:15:02Z"},
        "eventVersion": "0",
    }
    rows = CaptureRows(features=("brightness", "contrast"))
    read_capture_lines([json.dumps(record)], rows)
    assert rows.values == {"brightness": [0.4], "contrast": [1.2]}
