"""The parts of `mlp preflight` that need no AWS: hostname coverage, quota classes and needs, the
AMI parameter names, placeholders, and what a stack references."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from mlp import PROJECT_ROOT
from mlp.preflight.account import certificate, covers
from mlp.preflight.capacity import ami_parameter, needed_amis, split_cost_allocation
from mlp.preflight.lines import Clients
from mlp.preflight.placeholders import find_placeholders
from mlp.preflight.quotas import QUOTAS, quota_class, vcpu_needs
from mlp.preflight.references import Certificate, collect
from tests.conftest import planned


@pytest.mark.parametrize("names, host, expected", [
    (["notebooks.ml.initech.io"], "notebooks.ml.initech.io", True),
    (["NOTEBOOKS.ml.initech.io."], "notebooks.ml.initech.io", True),
    (["*.ml.initech.io"], "notebooks.ml.initech.io", True),
    (["*.initech.io"], "notebooks.ml.initech.io", False),  # a wildcard covers one label only
    (["*.ml.initech.io"], "ml.initech.io", False),
    (["other.initech.io", "www.initech.io"], "notebooks.ml.initech.io", False),
])
def test_a_certificate_covers_its_names_and_one_label_under_a_wildcard(names, host, expected):
    assert covers(names, host) is expected


@pytest.mark.parametrize("selector, expected", [
    ("c", "standard"), ("m6i", "standard"), ("r7g.large", "standard"), ("t3", "standard"), ("z1d", "standard"),
    ("g5", "g"), ("g6.xlarge", "g"), ("vt1", "g"), ("p4d", "p"), ("p5.48xlarge", "p"),
    ("inf2", None), ("trn1", None), ("x2idn", None), ("f1", None), ("dl1", None), ("hpc7g", None),
])
def test_instance_selectors_map_to_the_ec2_quota_they_draw_on(selector, expected):
    assert quota_class(selector) == expected


def test_pools_need_their_cpu_limit_in_every_class_and_purchase_option_they_allow():
    config = planned("prod").config
    needs, unknown = vcpu_needs(config, {"m6i.xlarge": 4, "m6a.xlarge": 4})
    by_code = {need.quota_code: need.vcpus for need in needs}
    cpu, gpu = (next(p for p in config.cluster.node_pools if p.name == n) for n in ("cpu", "gpu"))
    group = config.cluster.system_node_group
    # Standard on-demand: the system group at its maximum plus the CPU pool's limit.
    assert by_code["L-1216C47A"] == group.max_size * 4 + cpu.limits.cpu
    assert by_code["L-34B43A08"] == cpu.limits.cpu  # standard spot: the CPU pool allows spot
    assert by_code["L-DB2E81BA"] == gpu.limits.cpu and by_code["L-417A185B"] == gpu.limits.cpu  # g5/g6 and p4d, on-demand
    assert "L-3819A6DF" not in by_code  # prod's GPU pool is on-demand only
    assert unknown == []
    inferentia = SimpleNamespace(name="inf", instance_categories=(), instance_families=("inf2",), instance_types=(), capacity_types=("on-demand",),
                                 limits=SimpleNamespace(cpu=64))
    odd = SimpleNamespace(cluster=SimpleNamespace(system_node_group=group, node_pools=(inferentia,)))
    assert [(u.key, u.what) for u in vcpu_needs(odd, {"m6i.xlarge": 4, "m6a.xlarge": 4})[1]] == [("mlplatform:cluster.nodePools[0]", "inf2")]


def test_every_quota_code_is_an_ec2_l_code():
    assert all(code.startswith("L-") and len(code) == 10 for code, _ in QUOTAS.values())
    assert len({code for code, _ in QUOTAS.values()}) == len(QUOTAS)


def test_the_ami_parameter_is_the_one_karpenter_resolves_the_alias_through():
    assert ami_parameter("1.33", "x86_64", "nvidia", "v20260714") == \
        "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.33-v20260714/image_id"
    assert ami_parameter("1.33", "arm64", "standard", "latest") == "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/arm64/standard/recommended/image_id"
    assert needed_amis(planned("prod").config) == [("x86_64", "nvidia"), ("x86_64", "standard")]


def test_a_certificate_in_another_region_fails_before_any_call():
    line = certificate(Clients("us-west-2", "http://127.0.0.1:9"), Certificate("k", "arn:aws:acm:us-east-1:246813579024:certificate/x", "h.io"),
                       "246813579024", "us-west-2")
    assert line.status == "FAIL" and "is in us-east-1; a load balancer in us-west-2 needs a certificate in us-west-2" in line.detail


def test_split_cost_allocation_needs_the_operators_word():
    assert split_cost_allocation(False).status == "FAIL" and split_cost_allocation(True).status == "ok"


@pytest.mark.parametrize("value, why", [
    ("arn:aws:iam::123456789012:role/x", "123456789012"), ("111122223333", "111122223333"),
    ("notebooks.ml.acme.example", "example domain"), ("https://login.example.com/oauth", "example domain"),
    ("ops@corp.test", "example domain"), ("203.0.113.0/24", "documentation network"), ("2001:db8::/48", "documentation network"),
    ("s3://acme-models/x", "acme"),
])
def test_placeholders_are_found(value, why):
    (found,) = find_placeholders({"mlplatform:x": {"y": [value]}})
    assert found.key == "mlplatform:x.y[0]" and why in found.why


@pytest.mark.parametrize("value", ["arn:aws:iam::246813579024:role/x", "notebooks.ml.initech.io", "10.0.0.0/8", "s3://initech-models/x",
                                   "https://login.examples.io", "1234567890123", "macme"])
def test_real_values_are_not_placeholders(value):
    assert find_placeholders({"mlplatform:x": value}) == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_reference_of_a_shipped_stack_is_collected(stack):
    config = planned(stack).config
    references = collect(config)
    assert references.certificates[0].hostname == config.notebooks.hostname
    assert ("mlplatform:cluster.deployRoleArn", config.cluster.deploy_role_arn) in references.roles
    text = (PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    raw = yaml.safe_load(text)["config"]
    # Every s3:// model and every image of the stack file is looked up (once each).
    files = [v for k, v in _strings(raw) if k.endswith((".model", ".baseline")) and v.startswith("s3://")]
    assert sorted({a.location.uri for a in references.artifacts}) == sorted(set(files))
    assert all(a.key.endswith((".model", ".baseline")) for a in references.artifacts)
    credentials = {v for k, v in _strings(raw) if k.endswith(".credentialArn")}
    assert credentials <= {secret for _, secret in references.secrets}
    images = {v for k, v in _strings(raw) if k.endswith(".image") and ":" in v}
    assert images <= {f"{i.repository.split('/', 1)[1]}{i.ref.reference}" for i in references.images if i.platform_repository}


def _strings(value, key=""):
    from mlp.preflight.references import iter_strings

    return list(iter_strings(value, key))
