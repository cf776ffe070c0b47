"""Reading Pulumi's documents: the real CLI samples, exports of the offline plan, bad shapes."""

import copy
import json
import math
from pathlib import Path

import pytest

from mlp.errors import UserError
from mlp.state import GONE_AFTER, LIVE_AFTER, check_group_keys, load_document, resources_from_document
from mlp.state_fields import FIELDS, UNKNOWN

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "pulumi"


@pytest.mark.parametrize("name", ["sample-export.json", "sample-preview-creates.json", "sample-preview-update.json", "sample-preview-deletes.json"])
def test_real_pulumi_documents_are_read(name):
    resources = load_document(FIXTURES / name)
    assert any(r.type == "aws:s3/bucket:Bucket" for r in resources)
    assert all("__defaults" not in r.inputs for r in resources)


def test_preview_deletes_contribute_nothing():
    document = json.loads((FIXTURES / "sample-preview-deletes.json").read_text())
    deleted = {s["urn"] for s in document["steps"] if s["op"] == "delete"}
    assert deleted
    assert not deleted & {r.urn for r in load_document(FIXTURES / "sample-preview-deletes.json")}


def test_provider_default_tags_are_merged_under_resource_tags():
    provider_urn = "urn:pulumi:dev::p::pulumi:providers:aws::main"
    document = {"version": 3, "deployment": {"resources": [
        {"urn": provider_urn, "type": "pulumi:providers:aws", "custom": True, "id": "abc",
         "inputs": {"defaultTags": json.dumps({"tags": {"Environment": "dev", "Team": "platform"}})}},
        {"urn": "urn:pulumi:dev::p::aws:s3/bucket:Bucket::b", "type": "aws:s3/bucket:Bucket", "custom": True, "id": "b",
         "inputs": {"tags": {"Team": "vision"}}, "provider": f"{provider_urn}::abc"},
    ]}}
    bucket = resources_from_document(document, "x.json")[1]
    assert bucket.tags == {"Environment": "dev", "Team": "vision"}


@pytest.mark.parametrize("document,key", [
    ([], None),
    ({"version": 2, "deployment": {"resources": []}}, "version"),
    ({"version": 3, "deployment": {"resources": {}}}, "deployment.resources"),
    ({"version": 3, "deployment": {"resources": [{"type": "aws:s3/bucket:Bucket"}]}}, "deployment.resources[0].urn"),
    ({"steps": [{"urn": "u"}]}, "steps[0].op"),
    ({"something": 1}, None),
])
def test_wrong_shapes_name_the_key(document, key):
    with pytest.raises(UserError) as raised:
        resources_from_document(document, "state.json")
    assert raised.value.source == "state.json"
    assert raised.value.key == key


def test_unreadable_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_document(path)


# --- every step operation, explicitly ------------------------------------------------------------

PREVIEW = json.loads((FIXTURES / "sample-preview-update.json").read_text())
BUCKET_STEP = next(step for step in PREVIEW["steps"] if step["newState"]["type"] == "aws:s3/bucket:Bucket")


def preview_of(*steps: dict) -> dict:
    return {"steps": list(steps), "changeSummary": {}}


def step(op: str, state: bool = True, **extra) -> dict:
    made = {"op": op, "urn": BUCKET_STEP["urn"], **extra}
    if state:
        made["newState"] = copy.deepcopy(BUCKET_STEP["newState"])
    return made


def test_the_listed_operations_are_every_operation_pulumi_emits():
    assert LIVE_AFTER | GONE_AFTER == {
        "same", "create", "update", "delete", "replace", "create-replacement", "delete-replaced", "read", "read-replacement",
        "refresh", "discard", "discard-replaced", "remove-pending-replace", "import", "import-replacement"}
    assert not LIVE_AFTER & GONE_AFTER


@pytest.mark.parametrize("op", sorted(LIVE_AFTER))
def test_a_resource_exists_after_a_live_operation(op):
    (resource,) = resources_from_document(preview_of(step(op)), "preview.json")
    assert resource.urn == BUCKET_STEP["urn"]
    assert resource.external == (op in ("read", "read-replacement"))


@pytest.mark.parametrize("op", sorted(GONE_AFTER))
def test_a_resource_is_gone_after_a_deleting_operation(op):
    assert resources_from_document(preview_of(step(op, state=False, oldState=BUCKET_STEP["newState"])), "preview.json") == []


def test_a_replacement_counts_once():
    steps = [step("create-replacement"), step("replace"), step("delete-replaced", state=False)]
    assert len(resources_from_document(preview_of(*steps), "preview.json")) == 1


@pytest.mark.parametrize("op", sorted(LIVE_AFTER - {"refresh"}))
def test_a_live_operation_without_new_state_is_an_error_not_a_silent_drop(op):
    with pytest.raises(UserError) as raised:
        resources_from_document(preview_of(step("same"), step(op, state=False)), "preview.json")
    assert raised.value.key == "steps[1].newState"
    assert f"a '{op}' step of {BUCKET_STEP['urn']} has no newState" in raised.value.message


def test_a_refresh_without_new_state_found_the_resource_gone():
    assert resources_from_document(preview_of(step("refresh", state=False)), "preview.json") == []


@pytest.mark.parametrize("op", ["creat", "CREATE", "", None, 3])
def test_an_unknown_operation_is_an_error(op):
    with pytest.raises(UserError) as raised:
        resources_from_document(preview_of(step("same"), step("same") | {"op": op}), "preview.json")
    assert raised.value.key == "steps[1].op"
    assert "not a Pulumi step operation" in raised.value.message and "create-replacement" in raised.value.message


def test_a_new_state_of_another_resource_is_an_error():
    wrong = step("create")
    wrong["urn"] = wrong["urn"].replace("::docs", "::other")
    with pytest.raises(UserError, match="is 'urn:pulumi:.*::docs', not the step's URN"):
        resources_from_document(preview_of(wrong), "preview.json")


def test_a_failed_preview_is_refused():
    document = preview_of(step("create")) | {"diagnostics": [{"severity": "error", "message": "panic: creating bucket"}]}
    with pytest.raises(UserError) as raised:
        resources_from_document(document, "preview.json")
    assert raised.value.key == "diagnostics[0]" and "the preview failed" in raised.value.message


# --- every field the estimator reads ---------------------------------------------------------------

STACK = "urn:pulumi:prod::mlplatform::"


def export_of(*resources: dict) -> dict:
    return {"version": 3, "deployment": {"resources": list(resources)}}


def resource(type_token: str, name: str = "r", **inputs) -> dict:
    return {"urn": f"{STACK}{type_token}::{name}", "type": type_token, "custom": True, "id": name, "inputs": inputs}


def field_error(*resources: dict) -> UserError:
    with pytest.raises(UserError) as raised:
        resources_from_document(export_of(*resources), "state.json")
    return raised.value


@pytest.mark.parametrize("made,field,words", [
    (resource("aws:s3/bucket:Bucket") | {"provider": 5}, "provider", "expected a string (a provider reference: <provider URN>::<id>), got 5"),
    (resource("aws:s3/bucket:Bucket") | {"provider": "aws-east"}, "provider", "expected a provider reference"),
    (resource("kubernetes:karpenter.sh/v1:NodePool", spec={"limits": {"cpu": "1..2"}}), "inputs.spec.limits.cpu",
     "expected a Kubernetes quantity like 64, 500m or 256Gi, got '1..2'"),
    (resource("kubernetes:karpenter.sh/v1:NodePool", spec={"limits": {"memory": "-5Gi"}}), "inputs.spec.limits.memory", "got '-5Gi'"),
    (resource("kubernetes:karpenter.sh/v1:NodePool", spec={"limits": {"cpu": "1E"}}), "inputs.spec.limits.cpu", "got '1E'"),
    (resource("kubernetes:karpenter.sh/v1:NodePool", spec=[]), "inputs.spec", "expected a mapping, got []"),
    (resource("aws:ebs/volume:Volume", size=-100), "inputs.size", "expected a number from 0 to 10^15, got -100"),
    (resource("aws:ebs/volume:Volume", size="NaN"), "inputs.size", "got 'NaN'"),
    (resource("aws:ebs/volume:Volume", size=math.inf), "inputs.size", "got inf"),
    (resource("aws:ebs/volume:Volume", iops="lots"), "inputs.iops", "got 'lots'"),
    (resource("aws:eks/nodeGroup:NodeGroup", scalingConfig={"desiredSize": "lots"}), "inputs.scalingConfig.desiredSize",
     "expected a whole number from 0 to 1,000,000, got 'lots'"),
    (resource("aws:eks/nodeGroup:NodeGroup", scalingConfig={"maxSize": 2.5}), "inputs.scalingConfig.maxSize", "got 2.5"),
    (resource("aws:eks/nodeGroup:NodeGroup", instanceTypes="m5.large"), "inputs.instanceTypes", "expected a list of strings"),
    (resource("aws:sagemaker/endpointConfiguration:EndpointConfiguration", productionVariants=[{"initialInstanceCount": -1}]),
     "inputs.productionVariants[0].initialInstanceCount", "got -1"),
    (resource("kubernetes:core/v1:PersistentVolumeClaim", spec={"resources": {"requests": {"storage": "ten gigs"}}}),
     "inputs.spec.resources.requests.storage", "got 'ten gigs'"),
    (resource("kubernetes:storage.k8s.io/v1:StorageClass", parameters={"iops": "3k"}), "inputs.parameters.iops", "got '3k'"),
    (resource("aws:sqs/queue:Queue", fifoQueue="false"), "inputs.fifoQueue", "expected true or false"),
    (resource("aws:s3/bucket:Bucket", tags={"Team": {"name": "vision"}}), "inputs.tags", "expected a mapping of strings"),
    (resource("kubernetes:core/v1:ConfigMap", metadata={"labels": ["a"]}), "inputs.metadata.labels", "expected a mapping of strings"),
    (resource("pulumi:providers:aws", "default", region="moon-base-1a"), "inputs.region", "expected an AWS region like us-east-1"),
    (resource("pulumi:providers:aws", "default", defaultTags="{not json"), "inputs.defaultTags", "JSON text or a mapping"),
    (resource("pulumi:providers:aws", "default", defaultTags={"tags": {"Team": [1]}}), "inputs.defaultTags.tags", "mapping of strings"),
    (resource("aws:ebs/volume:Volume", size={"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}),
     "inputs.size", "is a secret or asset value: mlp cannot read it"),
    (resource("aws:s3/bucket:Bucket") | {"custom": "false"}, "custom", "expected true or false, got 'false'"),
    (resource("aws:s3/bucket:Bucket") | {"type": "aws:s3/bucketV2:BucketV2"}, "type", "does not match the URN's type"),
    (resource("aws:s3/bucket:Bucket") | {"inputs": []}, "inputs", "expected an object, got []"),
])
def test_a_bad_field_names_the_resource_urn_and_the_field(made, field, words):
    error = field_error(made)
    assert error.source == "state.json"
    assert error.key == f"{made['urn']}: {field}"
    assert words in error.message


@pytest.mark.parametrize("made", [
    resource("aws:eks/nodeGroup:NodeGroup", scalingConfig={"desiredSize": 3.0, "minSize": "1", "maxSize": UNKNOWN}),
    resource("kubernetes:karpenter.sh/v1:NodePool", spec={"limits": {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": 8}}),
    resource("kubernetes:storage.k8s.io/v1:StorageClass", parameters={"type": "gp3", "iops": "3000", "throughput": "125"}),
    resource("aws:ebs/volume:Volume", size=None, type="gp3"),
    resource("aws:lambda/function:Function", memorySize=128, reservedConcurrentExecutions=-1),  # -1 is no field the estimator reads
])
def test_good_values_in_every_form_pulumi_records_them_are_read(made):
    (read,) = resources_from_document(export_of(made), "state.json")
    assert read.urn == made["urn"]


def test_every_declared_path_names_a_known_check():
    for type_token, rules in FIELDS.items():
        assert rules and all(callable(check) for _, check in rules), type_token


def test_a_second_resource_with_one_urn_is_an_error_but_a_pending_delete_is_skipped():
    bucket = resource("aws:s3/bucket:Bucket")
    assert len(resources_from_document(export_of(bucket, bucket | {"delete": True}), "state.json")) == 1
    error = field_error(bucket, bucket)
    assert error.key == bucket["urn"] and "a second resource with this URN (deployment.resources[1]" in error.message


def test_a_urn_that_is_no_urn_names_its_place():
    error = field_error(resource("aws:s3/bucket:Bucket") | {"urn": "bucket"})
    assert error.key == "deployment.resources[0].urn"


def test_external_resources_are_marked():
    (read,) = resources_from_document(export_of(resource("aws:ec2/vpc:Vpc") | {"external": True}), "state.json")
    assert read.external


def test_group_keys_must_be_cost_tags_or_tags_a_resource_carries():
    resources = resources_from_document(export_of(resource("aws:s3/bucket:Bucket", tags={"Owner": "ana"})), "state.json")
    assert check_group_keys(("Team", "Owner"), resources) == ("Team", "Owner")
    with pytest.raises(UserError) as raised:
        check_group_keys(("Teem",), resources)
    assert str(raised.value).startswith("command line: --by: no resource carries the tag 'Teem'")
