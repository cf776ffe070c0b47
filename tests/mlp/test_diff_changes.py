"""`mlp diff` says what changed and why it costs that: replacements (computed for two exports,
read from a preview's steps) and deletes of protected resources flagged first, the priced lines
that moved for expected, floor and ceiling, and usage changes priced with each side's usage."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal

from mlp.cost import usage_schemas
from mlp.diff import as_json, diff_resources, render_markdown
from mlp.diff.properties import preview_steps
from mlp.state import resources_from_document
from mlp.usage import load_usage
from tests.mlp.cost.documents import export, gpu_pool, node_class, resource

ON = date(2026, 1, 1)


def resources(document: dict) -> list:
    return resources_from_document(document, "doc.json")


def node_group(instance_types: list[str]) -> dict:
    return resource("aws:eks/nodeGroup:NodeGroup", "system", {"instanceTypes": instance_types, "scalingConfig": {"desiredSize": 2, "minSize": 2, "maxSize": 4},
                                                              "diskSize": 20}, tags={"Component": "compute"})


def test_a_node_group_instance_type_change_is_a_replacement_flagged_first():
    result = diff_resources(resources(export(node_group(["m5.large"]))), resources(export(node_group(["m5.xlarge"]))), on=ON)
    (change,) = result.changes
    assert change.kind == "replace" and change.flagged
    assert [(p.path, p.old, p.new, p.replaces) for p in change.properties] == [("instanceTypes[0]", "m5.large", "m5.xlarge", True)]
    # Two nodes from $0.096 to $0.192 an hour: +$140.16 expected and at the floor, four at the ceiling.
    assert (change.change("expected"), change.change("floor"), change.change("ceiling")) == (Decimal("140.160"), Decimal("140.160"), Decimal("280.320"))
    text = render_markdown(result)
    flag = "> ⚠️ **`system`** (`aws:eks/nodeGroup:NodeGroup`) will be **replaced (deleted and created again)** because `instanceTypes[0]` changed."
    assert flag in text.splitlines()
    assert text.index(flag) < text.index("| Component |")
    assert "    ! instanceTypes[0]: m5.large → m5.xlarge  (forces replacement)" in text
    assert as_json([result])["flagged"] == [{"name": "system", "urn": change.urn, "type": "aws:eks/nodeGroup:NodeGroup", "change": "replace",
                                             "protected": False, "replacedBy": ["instanceTypes[0]"]}]


def test_a_scaling_change_is_an_update_in_place():
    bigger = node_group(["m5.large"])
    bigger["inputs"]["scalingConfig"]["maxSize"] = 8
    (change,) = diff_resources(resources(export(node_group(["m5.large"]))), resources(export(bigger)), on=ON).changes
    assert change.kind == "change" and not change.flagged
    assert change.change("expected") == 0 and change.change("ceiling") == 4 * (Decimal("0.096") * 730 + 20 * Decimal("0.10"))


def test_deleting_a_protected_resource_is_flagged():
    bucket = resource("aws:s3/bucket:Bucket", "lake", {"bucket": "acme-lake"}, protect=True)
    result = diff_resources(resources(export(bucket)), resources(export()), on=ON)
    (change,) = result.changes
    assert change.kind == "remove" and change.protected and change.flagged
    assert ("> 🛑 **`lake`** (`aws:s3/bucket:Bucket`) is **protected** and would be **deleted**: Pulumi refuses to delete a protected resource, "
            "so the update fails unless its protection is lifted on purpose.") in render_markdown(result)


def preview_of(base: dict, steps: list[dict]) -> dict:
    provider = base["deployment"]["resources"][0]
    return {"steps": [{"op": "same", "urn": provider["urn"], "newState": provider}, *steps]}


def test_a_preview_says_what_is_replaced_and_which_inputs_changed():
    old = node_group(["m5.large"])
    new = node_group(["m5.xlarge"])
    base = export(old)
    preview = preview_of(base, [
        {"op": "create-replacement", "urn": old["urn"], "oldState": old, "newState": new, "replaceReasons": ["instanceTypes"],
         "detailedDiff": {"instanceTypes[0]": {"kind": "update-replace", "inputDiff": True}}},
        {"op": "replace", "urn": old["urn"], "oldState": old, "newState": new},
        {"op": "delete-replaced", "urn": old["urn"], "oldState": old},
    ])
    steps = preview_steps(preview)
    assert steps[old["urn"]].replaces
    result = diff_resources(resources(base), resources_from_document(preview, "preview.json"), on=ON, steps=steps)
    (change,) = result.changes
    assert change.kind == "replace"
    assert [(p.path, p.kind, p.old, p.new, p.replaces) for p in change.properties] == [("instanceTypes[0]", "update", "m5.large", "m5.xlarge", True)]
    assert change.change("expected") == Decimal("140.160")


def test_a_preview_flags_the_delete_of_a_protected_resource_and_ignores_unchanged_steps():
    bucket = resource("aws:s3/bucket:Bucket", "lake", {"bucket": "acme-lake"}, protect=True)
    queue = resource("aws:sqs/queue:Queue", "jobs")
    base = export(bucket, queue)
    preview = preview_of(base, [{"op": "delete", "urn": bucket["urn"], "oldState": bucket}, {"op": "same", "urn": queue["urn"], "oldState": queue, "newState": queue}])
    result = diff_resources(resources(base), resources_from_document(preview, "preview.json"), on=ON, steps=preview_steps(preview))
    (change,) = result.changes
    assert (change.name, change.kind, change.protected) == ("lake", "remove", True)


def gpu_document(gpus: int) -> dict:
    return export(node_class(), gpu_pool({"nvidia.com/gpu": str(gpus)}))


def test_doubling_the_gpu_pool_limit_shows_which_ceiling_line_moved():
    result = diff_resources(resources(gpu_document(8)), resources(gpu_document(16)), on=ON)
    (change,) = result.changes
    assert [(p.path, p.old, p.new) for p in change.properties] == [('spec.limits["nvidia.com/gpu"]', "8", "16")]
    # The worst fill: one g5.16xlarge ($4.096 an hour) per GPU, with its 100 GiB gp3 disk.
    per_node = Decimal("4.096") * 730 + 100 * Decimal("0.08")
    assert (change.change("expected"), change.change("floor"), change.change("ceiling")) == (0, 0, 8 * per_node)
    moved = {line.name: (line.change("expected"), line.change("ceiling")) for line in change.lines()}
    assert moved == {
        'Ceiling: 8 x g5.16xlarge on-demand (nvidia.com/gpu=8)': (0, -8 * Decimal("4.096") * 730),
        'Ceiling node disks: storage (gp3)': (0, 8 * 100 * Decimal("0.08")),
        'Ceiling: 16 x g5.16xlarge on-demand (nvidia.com/gpu=16)': (0, 16 * Decimal("4.096") * 730),
    }
    text = render_markdown(result)
    assert "    expected ±$0.00 · floor ±$0.00 · ceiling +$23,984.64" in text
    assert "    + Ceiling: 16 x g5.16xlarge on-demand (nvidia.com/gpu=16): ceiling +$47,841.28" in text


def write_usage(tmp_path, name: str, hours: int):
    path = tmp_path / name
    path.write_text(json.dumps({"version": "0.1", "resource_usage": {"gpu-pool": {"monthly_node_hrs": hours}}}))
    return load_usage(path, usage_schemas())


def test_a_usage_change_is_priced_with_each_sides_usage_file(tmp_path):
    document = resources(gpu_document(8))
    base_usage, head_usage = write_usage(tmp_path, "base.yaml", 100), write_usage(tmp_path, "head.yaml", 200)
    result = diff_resources(document, resources(gpu_document(8)), base_usage=base_usage, head_usage=head_usage, on=ON)
    (change,) = result.changes
    assert change.kind == "change" and change.properties == []
    assert change.usage_changes == [("resource_usage.gpu-pool.monthly_node_hrs", 100, 200)]
    # 100 more node-hours of g5.xlarge on spot ($1.006 x 0.35) and of their 100 GiB gp3 disk.
    expected = 100 * Decimal("1.006") * Decimal("0.35") + 100 * Decimal("0.08") * 100 / 730
    assert change.change("expected").quantize(Decimal("0.0001")) == expected.quantize(Decimal("0.0001")) == Decimal("36.3059")
    assert change.change("floor") == 0
    assert result.usage_changes == [("resource_usage.gpu-pool.monthly_node_hrs", 100, 200)]
    text = render_markdown(result)
    assert "Usage file changes: `resource_usage.gpu-pool.monthly_node_hrs` 100 → 200" in text
    assert "    ~ Expected nodes (g5.xlarge, spot): expected +$35.21  [usage: monthly_node_hrs]" in text
    assert f"usage `{base_usage.source}` → `{head_usage.source}`" in text
    same = diff_resources(document, resources(gpu_document(8)), usage=head_usage, on=ON)
    assert same.changes == []  # one usage file for both sides: the code alone changed nothing


def test_the_real_prod_stack_with_a_pull_request_like_change(plan_edited, plan_of):
    """Doubling the GPU pool's limits, moving the system node group to the next size: the ceiling
    line that moved and the replacement EKS makes."""

    def edit(config):
        cluster = config["mlplatform:cluster"]
        gpu = next(pool for pool in cluster["nodePools"] if pool["gpu"])
        gpu["limits"] = {key: value * 2 for key, value in gpu["limits"].items()}
        cluster["systemNodeGroup"]["instanceTypes"] = [t.replace(".xlarge", ".2xlarge") for t in cluster["systemNodeGroup"]["instanceTypes"]]

    base, head = plan_of("prod"), plan_edited("prod", edit)
    result = diff_resources(base.resources, head.resources, on=date(2026, 11, 29))
    kinds = {c.name: c.kind for c in result.changes}
    assert kinds["mlplatform-cluster-system"] == "replace"
    pool = next(c for c in result.changes if c.type == "kubernetes:karpenter.sh/v1:NodePool")
    assert pool.change("expected") == 0 and pool.change("ceiling") > 0
    assert any(line.name.startswith("Ceiling: ") and line.head is not None and line.base is None for line in pool.lines())
    assert result.change("ceiling") == sum((c.change("ceiling") for c in result.changes), Decimal(0))
    copy.deepcopy(result.by_tag())  # the per-tag rows are plain data
