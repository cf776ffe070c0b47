"""Every custom resource of every stack is one its upstream CRD accepts, CEL rules included.

Mocks record a Karpenter NodePool or EC2NodeClass whatever it says; the API server would refuse
one that breaks its CRD's schema or `x-kubernetes-validations` rules, at `pulumi up`. Each custom
resource of a plan is checked (see `crd.py`) against the CRD of the chart version the same plan
installs, taken from `upstream.lock.json`: a custom resource without a pinned CRD fails.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from mlp import upstream
from tests.conformance import crd
from tests.conformance.crd import HAND_WRITTEN_CHECKS, RULES
from tests.conformance.render import chart_versions
from tests.conftest import STACKS, planned
# The object as the Kubernetes provider sends it: mocks record every number as a float (an
# integer field such as `weight` arrives as 8.0), the provider sends JSON numbers (8).
from tests.test_kubernetes_schema import _manifest

AUTONAME_SUFFIX = "-0a1b2c3d"  # Pulumi names an unnamed object `<resource name>-<8 random characters>`


def custom_resources(stack: str) -> list[tuple[str, dict]]:
    """(resource name, object as sent) of every custom resource the plan declares."""
    found = []
    for resource in planned(stack).resources:
        if crd.is_custom_resource(resource.type):
            obj = _manifest(resource.inputs)
            metadata = obj.setdefault("metadata", {})
            if not metadata.get("name") and not metadata.get("generateName"):
                metadata["name"] = resource.name + AUTONAME_SUFFIX
            found.append((resource.name, obj))
    return found


def problems_of(stack: str) -> list[str]:
    charts = chart_versions(stack)
    problems = []
    for name, obj in custom_resources(stack):
        label = f"{stack} {obj.get('kind')} {obj['metadata'].get('name')} ({name})"
        try:
            definition, _ = crd.crd_for(str(obj.get("apiVersion")), str(obj.get("kind")), charts)
        except crd.CrdNotFound as error:
            problems.append(f"{label}: {error}")
            continue
        problems += [f"{label}: {error}" for error in crd.validate(obj, definition, RULES)]
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_is_accepted_by_its_upstream_crd(stack):
    kinds = {obj["kind"] for _, obj in custom_resources(stack)}
    assert {"NodePool", "EC2NodeClass"} <= kinds, f"{stack}: the plan declares no Karpenter pools to check"
    problems = problems_of(stack)
    assert not problems, "\n".join(problems)


def pinned_crds() -> list[crd.Crd]:
    return [definition for artifact in crd.locked_crd_sets()
            for definition in crd.crds_in(upstream.crd_dir(artifact.name, artifact.version)).values()]


def test_every_rule_of_the_pinned_crds_is_evaluated():
    inventory = crd.rule_inventory(RULES, pinned_crds())
    assert inventory, "the pinned CRDs have no CEL rules: is the lock's CRD set empty?"
    unsupported = [f"{where} at {path or '<root>'}: {rule!r}: {support.why}"
                   for where, path, rule, support in inventory if support.how == crd.UNSUPPORTED]
    assert not unsupported, ("rules that neither celpy nor a hand-written check evaluates (add a Kubernetes function "
                             "to crd.KUBERNETES_FUNCTIONS or an entry to HAND_WRITTEN_CHECKS):\n" + "\n".join(unsupported))


def test_hand_written_checks_stand_for_rules_celpy_cannot_evaluate():
    rules = {rule for _, _, rule, _ in crd.rule_inventory(RULES, pinned_crds())}
    bare = crd.CelRules({})
    stale = [rule for rule in HAND_WRITTEN_CHECKS if rule not in rules or bare.support(rule).how != crd.UNSUPPORTED]
    assert not stale, "hand-written checks for rules no pinned CRD has or celpy evaluates itself:\n" + "\n".join(stale)


# --- the validator itself: it accepts what Karpenter accepts and refuses what it refuses --------

def karpenter(kind: str) -> crd.Crd:
    """A Karpenter CRD of the newest Karpenter CRD set the lock pins."""
    newest = max((a for a in crd.locked_crd_sets() if a.name == "karpenter"), key=lambda a: crd.version_key(a.version))
    group = "karpenter.sh" if kind == "NodePool" else "karpenter.k8s.aws"
    return crd.crds_in(upstream.crd_dir(newest.name, newest.version))[(group, kind)]


NODE_POOL = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "general", "labels": {"mlplatform.io/team": "ml-platform"}},
    "spec": {
        "template": {
            "metadata": {"labels": {"mlplatform.io/pool": "general"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "general"},
                "requirements": [
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"], "minValues": 1},
                    {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]},
                ],
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                "expireAfter": "720h",
            },
        },
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "5m",
                       "budgets": [{"nodes": "10%"}, {"nodes": "0", "schedule": "0 9 * * mon-fri", "duration": "8h"}]},
        "limits": {"cpu": 64, "memory": "256Gi", "nvidia.com/gpu": "8"},
        "weight": 10,
    },
}
NODE_CLASS = {
    "apiVersion": "karpenter.k8s.aws/v1",
    "kind": "EC2NodeClass",
    "metadata": {"name": "general"},
    "spec": {
        "role": "KarpenterNodeRole-demo",
        "amiSelectorTerms": [{"alias": "al2023@v20260714"}],
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}],
        "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}, {"id": "sg-0123456789abcdef0"}],
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True,
                                 "ebs": {"volumeSize": "100Gi", "volumeType": "gp3", "encrypted": True}}],
        "metadataOptions": {"httpPutResponseHopLimit": 1},
        "tags": {"Team": "ml-platform"},
    },
}


def errors_of(obj: dict) -> list[str]:
    return [str(error) for error in crd.validate(obj, karpenter(obj["kind"]), RULES)]


def changed(example: dict, change: Callable[[dict], Any]) -> dict:
    obj = copy.deepcopy(example)
    change(obj)
    return obj


def pool_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def add_requirement(**requirement) -> Callable[[dict], Any]:
    return lambda obj: pool_spec(obj)["requirements"].append(requirement)


def ami_terms(*terms: dict) -> Callable[[dict], Any]:
    return lambda obj: obj["spec"].__setitem__("amiSelectorTerms", list(terms))


@pytest.mark.parametrize("example", [NODE_POOL, NODE_CLASS], ids=["NodePool", "EC2NodeClass"])
def test_a_valid_example_is_accepted(example):
    assert errors_of(example) == []


REFUSED = [
    # (id, example, change, what the API server says)
    ("unknown-field", NODE_POOL, lambda o: pool_spec(o).__setitem__("nodeClass", "general"), 'unknown field "spec.template.spec.nodeClass"'),
    ("bad-enum", NODE_POOL, lambda o: o["spec"]["disruption"].__setitem__("consolidationPolicy", "WhenIdle"),
     'spec.disruption.consolidationPolicy: Unsupported value: "WhenIdle": supported values: "WhenEmpty", "WhenEmptyOrUnderutilized"'),
    ("taint-effect", NODE_POOL, lambda o: pool_spec(o)["taints"][0].__setitem__("effect", "NoRun"), 'Unsupported value: "NoRun"'),
    ("in-without-values", NODE_POOL, add_requirement(key="karpenter.k8s.aws/instance-family", operator="In"),
     "evaluating rule: requirements with operator 'In' must have a value defined"),
    ("in-with-no-values", NODE_POOL, add_requirement(key="karpenter.k8s.aws/instance-family", operator="In", values=[]),
     "spec.template.spec.requirements: Invalid value: \"array\": requirements with operator 'In' must have a value defined"),
    ("gt-not-a-number", NODE_POOL, add_requirement(key="karpenter.k8s.aws/instance-cpu", operator="Gt", values=["many"]),
     "requirements operator 'Gt' or 'Lt' must have a single positive integer value"),
    ("min-values", NODE_POOL, add_requirement(key="karpenter.k8s.aws/instance-family", operator="In", values=["g5"], minValues=2),
     "requirements with 'minValues' must have at least that many values specified in the 'values' field"),
    ("nodepool-requirement", NODE_POOL, add_requirement(key="karpenter.sh/nodepool", operator="In", values=["gpu"]),
     'spec.template.spec.requirements[3].key: Invalid value: "karpenter.sh/nodepool": label "karpenter.sh/nodepool" is restricted'),
    ("hostname-requirement", NODE_POOL, add_requirement(key="kubernetes.io/hostname", operator="Exists"),
     'label "kubernetes.io/hostname" is restricted'),
    ("karpenter-label", NODE_POOL, lambda o: o["spec"]["template"]["metadata"]["labels"].__setitem__("karpenter.sh/owner", "me"),
     'spec.template.metadata.labels: Invalid value: "object": label domain "karpenter.sh" is restricted'),
    ("label-value-too-long", NODE_POOL, lambda o: o["spec"]["template"]["metadata"]["labels"].__setitem__("mlplatform.io/pool", "x" * 64),
     "spec.template.metadata.labels[mlplatform.io/pool]: Too long: 64: must have at most 63 characters"),
    ("kubernetes-io-label", NODE_POOL, lambda o: o["spec"]["template"]["metadata"]["labels"].__setitem__("kubernetes.io/role", "gpu"),
     'label domain "kubernetes.io" is restricted'),
    ("schedule-without-duration", NODE_POOL, lambda o: o["spec"]["disruption"]["budgets"][1].pop("duration"),
     "'schedule' must be set with 'duration'"),
    ("duration-pattern", NODE_POOL, lambda o: o["spec"]["disruption"].__setitem__("consolidateAfter", "5 minutes"),
     'spec.disruption.consolidateAfter: Invalid value: "5 minutes": spec.disruption.consolidateAfter in body should match'),
    ("weight-maximum", NODE_POOL, lambda o: o["spec"].__setitem__("weight", 101), "spec.weight in body should be less than or equal to 100"),
    ("weight-not-integer", NODE_POOL, lambda o: o["spec"].__setitem__("weight", 8.5), "spec.weight in body must be of type integer"),
    ("limit-not-int-or-string", NODE_POOL, lambda o: o["spec"]["limits"].__setitem__("cpu", 1.5), "must be of type integer or string"),
    ("limit-not-a-quantity", NODE_POOL, lambda o: o["spec"]["limits"].__setitem__("memory", "lots"), "spec.limits[memory]: Invalid value: \"lots\""),
    ("node-class-ref-required", NODE_POOL, lambda o: pool_spec(o).pop("nodeClassRef"), "spec.template.spec.nodeClassRef: Required value"),
    ("label-value-syntax", NODE_POOL, lambda o: o["metadata"]["labels"].__setitem__("mlplatform.io/team", "ML platform"),
     'metadata.labels: Invalid value: "ML platform": a valid label must be an empty string'),
    ("label-key-syntax", NODE_POOL, lambda o: o["metadata"]["labels"].__setitem__("-team", "ml"), 'metadata.labels: Invalid value: "-team": name part must'),
    ("name-syntax", NODE_POOL, lambda o: o["metadata"].__setitem__("name", "General"), "a lowercase RFC 1123 subdomain"),
    ("alias-and-id", NODE_CLASS, ami_terms({"alias": "al2023@latest", "id": "ami-0123456789abcdef0"}),
     "'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms"),
    ("two-aliases", NODE_CLASS, ami_terms({"alias": "al2023@latest"}, {"alias": "al2023@v20260714"}),
     "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms"),
    ("alias-family", NODE_CLASS, ami_terms({"alias": "ubuntu@latest"}), "family is not supported, must be one of the following"),
    ("alias-format", NODE_CLASS, ami_terms({"alias": "al2023"}), "'alias' is improperly formatted, must match the format 'family@version'"),
    ("windows-version", NODE_CLASS, ami_terms({"alias": "windows2022@v20250101"}), "windows families may only specify version 'latest'"),
    ("empty-term", NODE_CLASS, ami_terms({}), "expected at least one, got none, ['tags', 'id', 'name', 'alias', 'ssmParameter']"),
    ("no-alias-no-family", NODE_CLASS, ami_terms({"tags": {"team": "ml"}}), "must specify amiFamily if amiSelectorTerms does not contain an alias"),
    ("family-against-alias", NODE_CLASS, lambda o: o["spec"].__setitem__("amiFamily", "Bottlerocket"),
     "if set, amiFamily must be 'AL2023' or 'Custom' when using an AL2023 alias"),
    ("role-and-profile", NODE_CLASS, lambda o: o["spec"].__setitem__("instanceProfile", "KarpenterNodeProfile"),
     "must specify exactly one of ['role', 'instanceProfile']"),
    ("restricted-tag", NODE_CLASS, lambda o: o["spec"]["tags"].__setitem__("karpenter.sh/nodepool", "gpu"),
     "tag contains a restricted tag matching karpenter.sh/nodepool"),
    ("no-subnets", NODE_CLASS, lambda o: o["spec"].__setitem__("subnetSelectorTerms", []), "subnetSelectorTerms cannot be empty"),
    ("two-root-volumes", NODE_CLASS, lambda o: o["spec"]["blockDeviceMappings"].append(
        {"deviceName": "/dev/xvdb", "rootVolume": True, "ebs": {"volumeSize": "10Gi"}}), "must have only one blockDeviceMappings with rootVolume"),
    ("volume-size", NODE_CLASS, lambda o: o["spec"]["blockDeviceMappings"][0]["ebs"].__setitem__("volumeSize", "100GB"), "volumeSize in body should match"),
    ("hop-limit", NODE_CLASS, lambda o: o["spec"]["metadataOptions"].__setitem__("httpPutResponseHopLimit", 65), "should be less than or equal to 64"),
    ("max-items", NODE_CLASS, ami_terms(*[{"name": f"ami-{i}"} for i in range(31)]), "Too many: 31: must have at most 30 items"),
]


@pytest.mark.parametrize("example, change, expected", [pytest.param(e, c, x, id=i) for i, e, c, x in REFUSED])
def test_a_broken_custom_resource_is_refused_with_the_api_servers_message(example, change, expected):
    errors = errors_of(changed(example, change))
    assert any(expected in error for error in errors), f"expected {expected!r} among {errors}"


def test_type_and_required_errors_stop_cel_rules_as_in_the_api_server():
    # An In requirement without values breaks a rule, but the type error comes first.
    obj = changed(NODE_POOL, lambda o: (o["spec"].__setitem__("weight", "high"), add_requirement(key="team", operator="In", values=[])(o)))
    errors = errors_of(obj)
    assert errors[-1].endswith(crd.RULES_SKIPPED)
    assert not any("must have a value defined" in error for error in errors)


def test_defaults_are_applied_before_validation():
    schema = karpenter("NodePool").schema("v1")
    bare = changed(NODE_POOL, lambda o: (o["spec"].pop("disruption"), pool_spec(o).pop("expireAfter")))
    defaulted = crd.with_defaults(bare, schema)
    assert defaulted["spec"]["disruption"] == {"consolidateAfter": "0s", "consolidationPolicy": "WhenEmptyOrUnderutilized", "budgets": [{"nodes": "10%"}]}
    assert pool_spec(defaulted)["expireAfter"] == "720h"
    assert errors_of(bare) == []
    # A disruption given without consolidateAfter gets no object default: it is required.
    assert "spec.disruption.consolidateAfter: Required value" in errors_of(changed(bare, lambda o: o["spec"].__setitem__("disruption", {})))


def test_transition_rules_do_not_apply_on_create():
    rule = {"rule": "self.group == oldSelf.group", "message": "nodeClassRef.group is immutable"}
    assert RULES.support(rule["rule"]).how == crd.TRANSITION
    assert RULES.check(rule, {"group": "karpenter.k8s.aws"}, "spec.template.spec.nodeClassRef") is None
    inventory = crd.rule_inventory(RULES, [karpenter("NodePool")])
    assert any(support.how == crd.TRANSITION and "oldSelf" in rule for _, _, rule, support in inventory)


@pytest.mark.parametrize("rule", [
    "'abc 123 45'.find('[0-9]+') == '123'",
    "'abc'.find('[0-9]+') == ''",
    "'a1b22c333'.findAll('[0-9]+') == ['1', '22', '333']",
    "'a1b22c333'.findAll('[0-9]+', 2) == ['1', '22']",
    "'al2023@v20260714'.split('@') == ['al2023', 'v20260714']",
    "'a@b@c'.split('@', 2) == ['a', 'b@c']",
    "'a@b'.split('@', 0) == []",
    "'abc'.split('') == ['a', 'b', 'c']",
    "'ÄbC'.lowerAscii() == 'Äbc'",
    "'gpu'.upperAscii() == 'GPU'",
    "['a', 'b'].join('-') == 'a-b' && ['a', 'b'].join() == 'ab'",
])
def test_kubernetes_cel_functions_behave_as_in_kubernetes(rule):
    assert RULES.support(rule).how == crd.CELPY_WITH_KUBERNETES
    assert RULES.check({"rule": rule}, {}, "spec") is None


SORTED_RULE = {"rule": "self.isSorted()", "message": "zones must be sorted"}


def test_a_rule_celpy_cannot_evaluate_fails_unless_a_hand_written_check_stands_for_it():
    schema = {"type": "array", "items": {"type": "string"}, "x-kubernetes-validations": [SORTED_RULE]}
    without = crd.CelRules({})
    assert without.support(SORTED_RULE["rule"]).how == crd.UNSUPPORTED
    (error,) = without.errors(["a", "b"], schema, "spec.zones")
    assert "has no hand-written check" in str(error)
    with_check = crd.CelRules({SORTED_RULE["rule"]: lambda zones: zones == sorted(zones)})
    assert list(with_check.errors(["a", "b"], schema, "spec.zones")) == []
    (error,) = with_check.errors(["b", "a"], schema, "spec.zones")
    assert str(error) == 'spec.zones: Invalid value: "array": zones must be sorted'


def test_message_expression_reason_and_field_path_shape_the_error():
    rule = {"rule": "self.replicas <= 3", "messageExpression": "'at most 3 replicas, got ' + string(self.replicas)",
            "message": "too many replicas", "reason": "FieldValueForbidden", "fieldPath": ".replicas"}
    (error,) = RULES.errors({"replicas": 5}, {"type": "object", "properties": {"replicas": {"type": "integer"}}, "x-kubernetes-validations": [rule]}, "spec")
    assert str(error) == 'spec.replicas: Forbidden: "object": at most 3 replicas, got 5'
    broken = {**rule, "messageExpression": "self.nothing"}  # an erring messageExpression falls back to the message
    assert "too many replicas" in str(next(RULES.errors({"replicas": 5}, {"type": "object", "x-kubernetes-validations": [broken]}, "spec")))


STRUCTURAL = {
    "type": "object",
    "properties": {
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
        "note": {"type": "string", "nullable": True},
        "zones": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                  "items": {"type": "object", "required": ["port"], "properties": {"port": {"type": "integer"}, "name": {"type": "string"}}}},
        "since": {"type": "string", "format": "date-time"},
        "size": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
    },
}


@pytest.mark.parametrize("value, expected", [
    ({"free": {"anything": {"goes": 1}}}, None),
    ({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}, None),
    ({"template": {"kind": "Pod", "metadata": {"name": "p"}}}, "template.apiVersion: Required value"),
    ({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "P_1"}}}, "template.metadata.name: Invalid value"),
    ({"note": None}, None),
    ({"zones": ["a", "a"]}, "zones[1]: Duplicate value"),
    ({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]}, 'ports[1]: Duplicate value: {"port": 80}'),
    ({"since": "2026-07-14T10:00:00Z"}, None),
    ({"since": "yesterday"}, "since in body must be of type date-time"),
    ({"size": "10Gi"}, None),
    ({"size": True}, "must be of type integer or string"),
], ids=["preserve-unknown-fields", "embedded-resource", "embedded-needs-apiVersion", "embedded-metadata", "nullable",
        "list-type-set", "list-type-map", "date-time", "bad-date-time", "int-or-string", "not-int-or-string"])
def test_kubernetes_schema_extensions(value, expected):
    errors = [str(error) for error in crd.schema_errors(crd.with_defaults(value, STRUCTURAL), STRUCTURAL, "")]
    if expected is None:
        assert errors == []
    else:
        assert any(expected in error for error in errors), f"expected {expected!r} among {errors}"


def test_a_non_nullable_null_is_dropped_and_then_required():
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    assert crd.with_defaults({"name": None}, schema) == {}
    assert [str(e) for e in crd.schema_errors({}, schema, "spec")] == ["spec.name: Required value"]


@pytest.mark.parametrize("api_version, kind, charts, expected", [
    ("example.com/v1", "Widget", {"karpenter-crd": "1.8.2"}, "Widget (example.com/v1) has no CRD in upstream.lock.json"),
    ("karpenter.sh/v1", "NodePool", {"karpenter-crd": "0.0.1"}, "needs the CRDs of karpenter 0.0.1: upstream.lock.json: crds karpenter 0.0.1 is not pinned"),
    ("karpenter.sh/v1", "NodePool", {}, "no Helm release of karpenter-crd or karpenter installs its CRDs"),
    ("karpenter.sh/v9", "NodePool", None, "karpenter.sh/v9 NodePool: karpenter.sh_nodepools.yaml serves only v1"),
])
def test_a_custom_resource_without_a_pinned_crd_is_named(api_version, kind, charts, expected):
    if charts is None:  # the version the lock pins, so only the API version is wrong
        charts = {"karpenter-crd": next(a.version for a in crd.locked_crd_sets() if a.name == "karpenter")}
    with pytest.raises(crd.CrdNotFound) as failure:
        crd.crd_for(api_version, kind, charts)
    assert expected in str(failure.value)
