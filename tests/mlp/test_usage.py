"""Usage files: the shipped ones are valid for the real stacks; every mistake names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlp.cost import estimate, usage_schemas
from mlp.errors import UserError
from mlp.usage import load_usage

STACKS_DIR = Path(__file__).resolve().parents[2] / "stacks"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "usage.yaml"
    path.write_text(text)
    return path


def test_shipped_usage_files_are_valid_for_their_stacks(plan_of, stack):
    usage = load_usage(STACKS_DIR / f"usage.{stack}.yaml", usage_schemas())
    assert usage.type_defaults and usage.resources
    result = estimate(plan_of(stack).resources, usage)
    # Usage entries are matched by name: a name the stack no longer has is reported, not lost.
    assert result.unused_usage == []
    assert result.total > 0
    lake = next(c for c in result.costs if c.resource.name == "mlplatform-datalake-raw")
    assert any("Standard" in component.name and component.quantity > 0 for component in lake.components)


def test_no_usage_file_means_no_usage(tmp_path):
    usage = load_usage(None, usage_schemas())
    assert usage.for_resource("aws:ec2/natGateway:NatGateway", "nat", "urn", usage_schemas()["aws:ec2/natGateway:NatGateway"]) == {}


def test_version_may_be_written_as_a_number_or_a_string(tmp_path):
    assert load_usage(write(tmp_path, "version: 0.1\n"), usage_schemas()).type_defaults == {}
    assert load_usage(write(tmp_path, "version: '0.1'\n"), usage_schemas()).resources == {}


@pytest.mark.parametrize("text,key,message", [
    ("version: 0.2\n", "version", "is not one of"),
    ("resource_usage: {}\n", None, "'version' is a required property"),
    ("version: 0.1\nresource_usages: {}\n", "resource_usages", "unknown usage key"),
    ("version: 0.1\nresource_type_default_usage:\n  aws:ec2/natGateway:NatGateway:\n    monthly_data_processed_gb: lots\n",
     "resource_type_default_usage.aws:ec2/natGateway:NatGateway.monthly_data_processed_gb", "'lots' is not of type 'number'"),
    ("version: 0.1\nresource_type_default_usage:\n  aws:ec2/natGateway:NatGateway:\n    monthly_data_processed_gb: -5\n",
     "resource_type_default_usage.aws:ec2/natGateway:NatGateway.monthly_data_processed_gb", "less than the minimum of 0"),
    ("version: 0.1\nresource_type_default_usage:\n  aws:ec2/natGateway:NatGateway:\n    monthly_gb: 5\n",
     "resource_type_default_usage.aws:ec2/natGateway:NatGateway.monthly_gb", "unknown usage key (expected one of: monthly_data_processed_gb, monthly_hrs)"),
    ("version: 0.1\nresource_type_default_usage:\n  aws:ec2/natGateway:NatGateway:\n    monthly_hrs: 800\n",
     "resource_type_default_usage.aws:ec2/natGateway:NatGateway.monthly_hrs", "greater than the maximum of 744"),
    ("version: 0.1\nresource_type_default_usage:\n  aws:iam/role:Role:\n    instances: 1\n",
     "resource_type_default_usage.aws:iam/role:Role", "not a resource type that takes usage"),
    ("version: 0.1\nresource_type_default_usage:\n  kubernetes:karpenter.sh/v1:NodePool:\n    capacity_type: reserved\n",
     "resource_type_default_usage.kubernetes:karpenter.sh/v1:NodePool.capacity_type", "is not one of"),
    ("version: 0.1\nresource_type_default_usage:\n  kubernetes:helm.sh/v3:Release:\n    profile_hours:\n      gpu:\n        monthly_hrs: 5\n",
     "resource_type_default_usage.kubernetes:helm.sh/v3:Release.profile_hours.gpu", "'instance_type' is a required property"),
    ("version: 0.1\nresource_usage:\n  nat: 5\n", "resource_usage.nat", "is not of type 'object'"),
])
def test_bad_usage_names_file_and_key(tmp_path, text, key, message):
    with pytest.raises(UserError) as raised:
        load_usage(write(tmp_path, text), usage_schemas())
    assert raised.value.source.endswith("usage.yaml")
    assert raised.value.key == key
    assert message in raised.value.message


def test_resource_entries_are_checked_against_their_resources_type(tmp_path):
    usage = load_usage(write(tmp_path, "version: 0.1\nresource_usage:\n  nat:\n    monthly_data_processed_gb: many\n"), usage_schemas())
    with pytest.raises(UserError) as raised:
        usage.for_resource("aws:ec2/natGateway:NatGateway", "nat", "urn:x::nat", usage_schemas()["aws:ec2/natGateway:NatGateway"])
    assert raised.value.key == "resource_usage.nat.monthly_data_processed_gb"


def test_unreadable_yaml_names_the_line(tmp_path):
    with pytest.raises(UserError, match=r"usage.yaml: not valid YAML \(line 3, column 1\)"):
        load_usage(write(tmp_path, "version: 0.1\nresource_usage: [\n"), usage_schemas())


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_usage(tmp_path / "nope.yaml", usage_schemas())


NAT = "version: 0.1\nresource_type_default_usage:\n  aws:ec2/natGateway:NatGateway:\n    monthly_data_processed_gb: {}\n"
NAT_KEY = "resource_type_default_usage.aws:ec2/natGateway:NatGateway.monthly_data_processed_gb"


@pytest.mark.parametrize("value,words", [
    (".nan", "expected a finite number of at most 1e+15, got nan"),
    (".inf", "got inf"),
    ("-.inf", "got -inf"),
    ("1.0e+300", "got 1e+300"),
    ("1" + "0" * 30, "got 1000000000000000000000000000000"),
    ("2025-01-13", "expected a number, string or boolean, got 2025-01-13 (a date): quote it"),
    ("!!binary aGVsbG8=", "got b'hello' (a bytes)"),
    ("!!set {a}", "(a set)"),
])
def test_non_finite_absurd_and_typed_values_name_the_key(tmp_path, value, words):
    with pytest.raises(UserError) as raised:
        load_usage(write(tmp_path, NAT.format(value)), usage_schemas())
    assert raised.value.key == NAT_KEY
    assert words in raised.value.message


def test_a_key_written_twice_names_both_lines(tmp_path):
    text = "version: 0.1\nresource_usage:\n  nat:\n    monthly_data_processed_gb: 5\n  nat:\n    monthly_data_processed_gb: 50\n"
    with pytest.raises(UserError) as raised:
        load_usage(write(tmp_path, text), usage_schemas())
    assert str(raised.value) == f"{tmp_path / 'usage.yaml'}: resource_usage.nat: duplicate key: first at line 3, again at line 5"


def test_a_misspelt_resource_name_is_an_error_with_a_suggestion(tmp_path):
    usage = load_usage(write(tmp_path, "version: 0.1\nresource_usage:\n  mlplatform-nat-O:\n    monthly_data_processed_gb: 5\n"), usage_schemas())
    schema = usage_schemas()["aws:ec2/natGateway:NatGateway"]
    usage.for_resource("aws:ec2/natGateway:NatGateway", "mlplatform-nat-0", "urn:pulumi:prod::mlplatform::aws:ec2/natGateway:NatGateway::mlplatform-nat-0", schema)
    with pytest.raises(UserError) as raised:
        usage.check_every_entry_matched()
    assert raised.value.key == "resource_usage.mlplatform-nat-O"
    assert raised.value.message == "matches no priced resource of the document by name or URN (did you mean 'mlplatform-nat-0'?)"


def test_every_entry_of_the_shipped_usage_files_matches_a_resource(plan_of, stack):
    usage = load_usage(STACKS_DIR / f"usage.{stack}.yaml", usage_schemas())
    estimate(plan_of(stack).resources, usage)
    usage.check_every_entry_matched()
