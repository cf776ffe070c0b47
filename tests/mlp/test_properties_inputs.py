"""Property-based tests (Hypothesis) of every input kind a person or Pulumi hands `mlp`: stack
files, usage files and Pulumi documents, malformed in generated ways. The contract, whatever
the input: a correct result, or one UserError (exit 2) naming the file and the key; never a
traceback, a NaN or negative amount, or a half-written `--out` file."""

from __future__ import annotations

import codecs
import copy
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp.errors import UserError
from mlp.stackfile import load_stack
from mlp.usage import load_usage
from tests.conftest import stack_yaml
from tests.mlp.inprocess import run_main

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "pulumi"

# Values no stack, usage or document field accepts where a number, string or flag is expected.
NEVER_VALID = st.one_of(
    st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.floats(min_value=1e16, max_value=1e300),
    st.integers(min_value=2**53, max_value=10**40), st.dates(), st.datetimes(), st.binary(max_size=8),
    st.sets(st.text(alphabet="abc", min_size=1, max_size=3), min_size=1, max_size=3),
)
ANY_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=12), st.dates(), st.binary(max_size=4)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="abcxyz", min_size=1, max_size=4), inner, max_size=3),
    max_leaves=6,
)


def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every scalar of a parsed YAML/JSON document."""
    if isinstance(value, dict):
        return [p for key, child in value.items() for p in leaves(child, path + (key,))]
    if isinstance(value, list):
        return [p for i, child in enumerate(value) for p in leaves(child, path + (i,))]
    return [path]


def put(document: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    document[path[-1]] = value


def one_line(error: UserError) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


# --- stack files ----------------------------------------------------------------------------------

DEV = stack_yaml("dev")
DEV_LEAVES = leaves(DEV["config"])


def config_key(path: tuple) -> str:
    """How the validators name a path of the config mapping."""
    text = "aws.region" if path[0] == "aws:region" else str(path[0])
    for part in path[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def load_edited(folder: Path, path: tuple, value: Any):
    """The dev stack file with `value` at `path` of its config, written as YAML and loaded."""
    document = copy.deepcopy(DEV)
    put(document["config"], path, value)
    stack_file = folder / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_stack("dev", str(stack_file))


@PROPERTY
@given(path=st.sampled_from(DEV_LEAVES), value=NEVER_VALID)
def test_stack_file_with_an_impossible_value_names_its_key(tmp_path_factory, path, value):
    with pytest.raises(UserError) as raised:
        load_edited(tmp_path_factory.mktemp("stack"), path, value)
    text = one_line(raised.value)
    assert raised.value.source.endswith("Pulumi.dev.yaml")
    key = config_key(path)
    # The value's own key, a parent of it (a list or mapping checked whole), or the YAML loader's
    # refusal of a key that is not a string (a !!set's members are keys).
    assert raised.value.key and (key.startswith(raised.value.key) or raised.value.key.startswith(key) or "not a string" in text), (key, text)


@PROPERTY
@given(path=st.sampled_from(DEV_LEAVES), value=ANY_VALUE)
def test_stack_file_with_any_value_loads_or_names_file_and_key(tmp_path_factory, path, value):
    try:
        raw, config = load_edited(tmp_path_factory.mktemp("stack"), path, value)
    except UserError as error:
        one_line(error)
        assert error.source.endswith("Pulumi.dev.yaml") and error.key
        return
    assert config.environment == "dev" and json.dumps(raw, default=str)


TOP_KEYS = [key for key in DEV["config"] if isinstance(DEV["config"][key], dict)]


@PROPERTY
@given(key=st.sampled_from(TOP_KEYS), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1-accent", "nul"]))
def test_stack_file_duplicates_and_encodings(tmp_path_factory, key, encoding):
    text = (Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.dev.yaml").read_text()
    duplicated = text + f"  {key}:\n    anything: 1\n"
    data = {"utf-8": duplicated.encode(), "utf-8-sig": codecs.BOM_UTF8 + duplicated.encode(), "utf-16": duplicated.encode("utf-16"),
            "latin-1-accent": (duplicated + "# café\n").encode("latin-1"), "nul": duplicated.encode() + b"\x00"}[encoding]
    stack_file = tmp_path_factory.mktemp("stack") / "Pulumi.dev.yaml"
    stack_file.write_bytes(data)
    with pytest.raises(UserError) as raised:
        load_stack("dev", str(stack_file))
    text = one_line(raised.value)
    if encoding in ("utf-8", "utf-8-sig", "utf-16"):
        assert raised.value.key == f"config.{key}" and "duplicate key: first at line" in text
    else:
        assert "not UTF-8 text" in text or "binary data" in text


# --- usage files ----------------------------------------------------------------------------------

USAGE_KEYS = ["monthly_hrs", "monthly_data_processed_gb", "instances", "storage_gb", "monthly_node_hrs", "monthly_requests", "notebook_users"]
USAGE_TYPES = ["aws:ec2/natGateway:NatGateway", "aws:eks/nodeGroup:NodeGroup", "kubernetes:karpenter.sh/v1:NodePool", "aws:kms/key:Key",
               "aws:ecr/repository:Repository", "kubernetes:helm.sh/v3:Release", "aws:iam/role:Role"]
USAGE_VALUE = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True), NEVER_VALID, st.text(max_size=5),
                        st.booleans(), st.none())


@PROPERTY
@given(entries=st.dictionaries(st.sampled_from(USAGE_TYPES), st.dictionaries(st.sampled_from(USAGE_KEYS), USAGE_VALUE, max_size=3),
                               max_size=3),
       version=st.sampled_from(["0.1", 0.1, "0.2", None]))
def test_usage_file_estimates_or_names_file_and_key(tmp_path_factory, plan_of_dev, entries, version):
    from mlp.cost import estimate, usage_schemas

    document = {"resource_type_default_usage": entries}
    if version is not None:
        document["version"] = version
    path = tmp_path_factory.mktemp("usage") / "usage.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        usage = load_usage(path, usage_schemas())
        result = estimate(plan_of_dev.resources, usage)
    except UserError as error:
        one_line(error)
        assert error.source == str(path)
        return
    assert result.total.is_finite() and result.total >= 0
    for cost in result.costs:
        assert cost.monthly_cost is None or (cost.monthly_cost.is_finite() and cost.monthly_cost >= 0)


@pytest.fixture(scope="module")
def plan_of_dev():
    from tests.conftest import planned

    return planned("dev")


# --- Pulumi documents -----------------------------------------------------------------------------

PRICED = [
    {"urn": "urn:pulumi:dev::sample::aws:eks/nodeGroup:NodeGroup::ng", "type": "aws:eks/nodeGroup:NodeGroup", "custom": True, "id": "ng",
     "inputs": {"scalingConfig": {"desiredSize": 2, "minSize": 1, "maxSize": 3}, "instanceTypes": ["m5.large"], "diskSize": 50}},
    {"urn": "urn:pulumi:dev::sample::aws:ebs/volume:Volume::v", "type": "aws:ebs/volume:Volume", "custom": True, "id": "v",
     "inputs": {"size": 100, "type": "gp3", "iops": 4000, "throughput": 200}},
    {"urn": "urn:pulumi:dev::sample::kubernetes:karpenter.sh/v1:NodePool::gpu", "type": "kubernetes:karpenter.sh/v1:NodePool", "custom": True,
     "id": "gpu", "inputs": {"metadata": {"name": "gpu"}, "spec": {"limits": {"cpu": "64", "memory": "256Gi"}, "template": {"spec": {
         "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.xlarge"]}]}}}}},
    {"urn": "urn:pulumi:dev::sample::kubernetes:core/v1:PersistentVolumeClaim::data", "type": "kubernetes:core/v1:PersistentVolumeClaim",
     "custom": True, "id": "data", "inputs": {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}},
]
EXPORT = json.loads((FIXTURES / "sample-export.json").read_text())
EXPORT["deployment"]["resources"] += PRICED
EXPORT_LEAVES = [path for path in leaves(EXPORT) if path[:2] == ("deployment", "resources")]
FIRST_PRICED = len(EXPORT["deployment"]["resources"]) - len(PRICED)
# Half the time a field the estimator reads, else anywhere in a real export.
DOCUMENT_PATHS = st.one_of(st.sampled_from([p for p in EXPORT_LEAVES if p[2] >= FIRST_PRICED]), st.sampled_from(EXPORT_LEAVES))
JSON_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
                       st.sampled_from(["1..2", "lots", "-5", "NaN", "Infinity", "1e999", "", "20Gi", "-1Gi", "3k", "urn:pulumi:x"]),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
MONEY = ("totalMonthlyCost", "totalBaselineMonthlyCost")


@PROPERTY
@given(path=DOCUMENT_PATHS, value=JSON_VALUE, as_text=st.sampled_from([None, "NaN", "1e999", "-Infinity"]))
def test_pulumi_document_prices_right_or_names_urn_and_field(tmp_path_factory, path, value, as_text):
    document = copy.deepcopy(EXPORT)
    put(document, path, value if as_text is None else "__RAW__")
    folder = tmp_path_factory.mktemp("doc")
    state = folder / "state.json"
    state.write_text(json.dumps(document).replace('"__RAW__"', as_text or ""))
    status, out, err = run_main("cost", str(state), "--format", "json")
    if status == 0:
        result = json.loads(out)
        for key in MONEY:
            assert Decimal(result[key]).is_finite() and Decimal(result[key]) >= 0
        for resource in result["resources"]:
            assert resource["monthlyCost"] is None or Decimal(resource["monthlyCost"]) >= 0, resource
        assert err == ""
    else:
        assert status == 2 and out == "", err
        assert err.count("\n") == 1 and err.startswith(f"mlp cost: {state}: "), err


@PROPERTY
@given(steps=st.lists(st.tuples(st.sampled_from(["same", "create", "update", "delete", "replace", "create-replacement",
                                                 "delete-replaced", "read", "refresh", "discard", "import", "creat", "", "noop"]),
                                st.booleans()), min_size=1, max_size=6))
def test_preview_steps_are_all_handled_explicitly(steps):
    from mlp.state import GONE_AFTER, LIVE_AFTER, NEW_STATE_OPTIONAL, resources_from_document

    bucket = next(r for r in EXPORT["deployment"]["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    document = {"steps": [{"op": op, "urn": bucket["urn"], **({"newState": bucket} if with_state else {})} for op, with_state in steps]}
    broken = next(((i, op, state) for i, (op, state) in enumerate(steps)
                   if op not in LIVE_AFTER | GONE_AFTER or (op in LIVE_AFTER - NEW_STATE_OPTIONAL and not state)), None)
    if broken is None:
        exists = any(op in LIVE_AFTER and state for op, state in steps)
        assert len(resources_from_document(document, "preview.json")) == int(exists)
    else:
        with pytest.raises(UserError) as raised:
            resources_from_document(document, "preview.json")
        assert raised.value.key in (f"steps[{broken[0]}].op", f"steps[{broken[0]}].newState")
