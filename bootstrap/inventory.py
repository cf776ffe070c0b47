"""What each platform stack declares, as far as its deploy role is concerned: its region, the
Pulumi type tokens it plans and the physical names of its IAM resources. Planned offline (no
cloud) and committed as bootstrap/planned.json, so a change that adds a type or a role shows up in
review beside the permissions it needs; a test fails when the file is stale.

    python -m bootstrap.inventory          # rewrite bootstrap/planned.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLANNED = HERE / "planned.json"
STACKS = ("dev", "staging", "prod")
IAM_TYPES = {
    "aws:iam/role:Role": "role",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/instanceProfile:InstanceProfile": "instance-profile",
}


def inventory_of(plan: Any) -> dict:
    """The inventory of one offline plan (mlp.plan.Plan)."""
    iam: set[str] = set()
    managed: set[str] = set()
    for resource in plan.resources:
        if resource.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            arn = resource.inputs.get("policyArn")
            if isinstance(arn, str) and arn.split(":")[4:5] == ["aws"]:
                managed.add(arn.split(":", 2)[2])  # partition-free: iam::aws:policy/...
        kind = IAM_TYPES.get(resource.type)
        if kind:
            name = resource.inputs.get("name")
            # Auto-named: Pulumi appends a random suffix to the resource name.
            iam.add(f"{kind}/{name}" if name else f"{kind}/{resource.name}-*")
    return {
        "region": plan.config.region,
        "namePrefix": plan.config.name_prefix,
        "types": sorted({r.type for r in plan.resources}),
        "iamResources": sorted(iam),
        # AWS managed policies the stack attaches: the only ones its deploy role may attach.
        "managedPolicies": sorted(managed),
    }


def build(planner=None) -> dict:
    if planner is None:
        from mlp.plan import plan_stack as planner
    return {stack: inventory_of(planner(stack)) for stack in STACKS}


def render(inventory: dict) -> str:
    return json.dumps(inventory, indent=2, sort_keys=True) + "\n"


def load() -> dict:
    return json.loads(PLANNED.read_text(encoding="utf-8"))


def main() -> int:
    from mlp.files import write_atomic

    write_atomic(PLANNED, render(build()))
    print(f"wrote {PLANNED.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
