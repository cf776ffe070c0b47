"""Reading Pulumi's documents: the real CLI samples, exports of the offline plan, bad shapes."""

import json
from pathlib import Path

import pytest

from mlp.errors import UserError
from mlp.state import load_document, resources_from_document

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
    ({"steps": [{"urn": "u"}]}, "steps[0]"),
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
