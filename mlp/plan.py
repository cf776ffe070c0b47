"""`mlp plan STACK`: run the program offline and show what it declares, per component.

No cloud, credentials or Pulumi CLI. Prints resources per component, cost-tag coverage (which
must be 100%) and the platform's checks; `--out` writes the stack-export document that
`mlp cost` and `mlp diff` read.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from components.config import PlatformConfig
from mlp.cost.eks_calendar import print_warnings as print_eks_support_warnings
from mlp.lineage import served_models_table
from mlp.files import write_atomic
from mlp.offline import OfflineRun, export_document, run_program
from mlp.queues import queue_ceilings, queues_table
from mlp.stackfile import as_pulumi_config, display_path, load_stack, stack_file_path
from mlp.state import StateResource, load_document, resources_from_document
from mlp.tagcheck import (
    Coverage,
    aws_tag_coverage,
    kubernetes_label_coverage,
    tag_limit_problems,
)
from mlp.terminal import output_console
from policy.rules import ALL_RULES, check_plan


@dataclass
class Plan:
    stack: str
    config_path: str
    config: PlatformConfig
    run: OfflineRun
    document: dict[str, Any]
    resources: list[StateResource]
    tag_coverage: Coverage
    label_coverage: Coverage
    tag_limits: dict[str, list[str]]  # urn -> what AWS would refuse
    policy_violations: list[tuple[str, str, str]]  # (urn, rule, problem) of the policy pack

    @property
    def complete(self) -> bool:
        return not (self.tag_coverage.missing or self.label_coverage.missing or self.tag_limits or self.policy_violations)


def plan_stack(stack: str, config_file: str | None = None) -> Plan:
    """Validate the stack config, run the program under mocks and build its export document."""
    raw, config = load_stack(stack, config_file)
    run = run_program(stack, as_pulumi_config(raw), config.region)
    document = export_document(run)
    resources = resources_from_document(document, f"offline plan of {stack}")
    return Plan(
        stack=stack,
        config_path=display_path(stack_file_path(stack, config_file)),
        config=config,
        run=run,
        document=document,
        resources=resources,
        tag_coverage=aws_tag_coverage(resources),
        label_coverage=kubernetes_label_coverage(resources),
        tag_limits=tag_limit_problems(resources),
        # What `pulumi preview --policy-pack policy` would refuse, known before any preview.
        policy_violations=check_plan(resources),
    )


def planned_or_loaded(state: str | None, stack: str | None, config_file: str | None = None) -> list[StateResource]:
    """The resources `mlp cost` and `mlp report` work on: a stack planned offline, or a document."""
    return plan_stack(stack, config_file).resources if stack else load_document(state)


def _component_table(plan: Plan) -> Table:
    table = Table(title=f"Resources of stack {plan.stack}", title_justify="left")
    table.add_column("component")
    table.add_column("resources", justify="right")
    table.add_column("AWS", justify="right")
    table.add_column("Kubernetes", justify="right")
    table.add_column("most common types")
    by_component: dict[str, list[StateResource]] = {}
    for resource in plan.resources:
        if resource.custom and not resource.is_provider:
            by_component.setdefault(resource.component, []).append(resource)
    for component in sorted(by_component):
        members = by_component[component]
        types = Counter(r.type.rsplit(":", 1)[-1] for r in members).most_common(3)
        table.add_row(
            component,
            str(len(members)),
            str(sum(r.type.startswith("aws:") for r in members)),
            str(sum(r.type.startswith("kubernetes:") for r in members)),
            ", ".join(f"{name} x{count}" for name, count in types),
        )
    table.add_row("total", str(sum(len(m) for m in by_component.values())), "", "", "", style="bold")
    return table


@dataclass
class ComputePool:
    """One place nodes come from: the managed system node group or a Karpenter NodePool."""
    name: str
    kind: str
    instances: str
    capacity_types: str
    size: str
    taints: str


NODE_GROUP_TYPE = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL_TYPE = "kubernetes:karpenter.sh/v1:NodePool"
_INSTANCE_REQUIREMENTS = {
    "node.kubernetes.io/instance-type": "types",
    "karpenter.k8s.aws/instance-family": "families",
    "karpenter.k8s.aws/instance-category": "categories",
}


def _whole(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def compute_pools(resources: list[StateResource]) -> list[ComputePool]:
    """Node groups and Karpenter pools of a document, as declared (what `mlp cost` prices too)."""
    pools = []
    for resource in resources:
        if resource.type == NODE_GROUP_TYPE:
            scaling = resource.inputs.get("scalingConfig") or {}
            pools.append(ComputePool(
                name=resource.inputs.get("nodeGroupName", resource.name),
                kind="managed node group",
                instances="types " + ", ".join(resource.inputs.get("instanceTypes") or ["(EKS default)"]),
                capacity_types=str(resource.inputs.get("capacityType", "ON_DEMAND")).lower().replace("_", "-"),
                size=f"min {_whole(scaling.get('minSize'))} / max {_whole(scaling.get('maxSize'))} (desired {_whole(scaling.get('desiredSize'))})",
                taints=", ".join(f"{t.get('key')}={t.get('value')}:{t.get('effect')}" for t in resource.inputs.get("taints") or []) or "-",
            ))
        elif resource.type == NODE_POOL_TYPE:
            spec = resource.inputs.get("spec") or {}
            node_spec = (spec.get("template") or {}).get("spec") or {}
            requirements = {r.get("key"): r.get("values") or [] for r in node_spec.get("requirements") or []}
            instances = [f"{label} {', '.join(requirements[key])}" for key, label in _INSTANCE_REQUIREMENTS.items() if key in requirements]
            limits = spec.get("limits") or {}
            pools.append(ComputePool(
                name=(resource.inputs.get("metadata") or {}).get("name", resource.name),
                kind="Karpenter NodePool",
                instances="; ".join(instances) or "any",
                capacity_types=", ".join(requirements.get("karpenter.sh/capacity-type", ["on-demand"])),
                size="min 0 / limits " + (", ".join(f"{key} {value}" for key, value in limits.items()) or "none"),
                taints=", ".join(f"{t.get('key')}={t.get('value')}:{t.get('effect')}" for t in node_spec.get("taints") or []) or "-",
            ))
    return pools


def _compute_table(plan: Plan) -> Table:
    table = Table(title=f"Compute of stack {plan.stack}", title_justify="left")
    for column in ("pool", "kind", "instances", "capacity", "size", "taints"):
        table.add_column(column, overflow="fold")  # fold, never cut: the values are the point
    for pool in compute_pools(plan.resources):
        table.add_row(pool.name, pool.kind, pool.instances, pool.capacity_types, pool.size, pool.taints)
    return table


def _coverage_line(what: str, keys: str, coverage: Coverage) -> str:
    mark = "[green]ok[/green]" if not coverage.missing else "[red]MISSING[/red]"
    return f"{mark} {what}: {coverage.covered}/{coverage.checked} carry all {keys} ({coverage.percent:.1f}%)"


def render(plan: Plan, console: Console) -> None:
    config = plan.config
    console.print(f"[bold]mlp plan {plan.stack}[/bold]  config {plan.config_path}  region {config.region}  "
                  f"cost centre {config.cost_center}  teams {', '.join(config.team_names)}")
    console.print(_component_table(plan))
    console.print(_compute_table(plan))
    console.print(served_models_table(plan.stack, plan.resources))
    if config.distributed is not None:
        ceilings = queue_ceilings(config)
        console.print(queues_table(plan.stack, config, ceilings))
        for problem in (problem for ceiling in ceilings if (problem := ceiling.problem())):
            console.print(f"[yellow]warning[/yellow] {problem} (set distributed.enforceBudgets: true to refuse it)")
    console.print(_coverage_line("cost tags", "6 cost tags", plan.tag_coverage))
    console.print(_coverage_line("Kubernetes labels", "cost labels", plan.label_coverage))
    for urn, keys in list(plan.tag_coverage.missing.items())[:20]:
        console.print(f"  missing {', '.join(keys)}: {urn}")
    for urn, keys in list(plan.label_coverage.missing.items())[:20]:
        console.print(f"  missing labels {', '.join(keys)}: {urn}")
    mark = "[green]ok[/green]" if not plan.tag_limits else "[red]REFUSED[/red]"
    console.print(f"{mark} AWS tag limits: {len(plan.tag_limits)} resource(s) over them")
    for urn, problems in list(plan.tag_limits.items())[:20]:
        console.print(f"  {'; '.join(problems)}: {urn}")
    mark = "[green]ok[/green]" if not plan.policy_violations else "[red]VIOLATED[/red]"
    console.print(f"{mark} policy pack (policy/): {len(plan.policy_violations)} violation(s) of {len(ALL_RULES)} rules (docs/policy-rules.md)")
    for urn, rule, problem in plan.policy_violations[:20]:
        console.print(f"  {rule}: {problem}: {urn}")
    protected = sum(r.protect for r in plan.resources)
    console.print(f"protected from destroy: {protected} resource(s)")
    print_eks_support_warnings(plan.resources, console)


def run(args: argparse.Namespace) -> int:
    plan = plan_stack(args.stack, args.config_file)
    render(plan, output_console())
    if args.out:
        # All or nothing: CI reads this file, a half-written export would be priced as a smaller stack.
        write_atomic(args.out, json.dumps(plan.document, indent=2) + "\n")
        Console(stderr=True).print(f"wrote {args.out}")
    return 0 if plan.complete else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plan", help="run the program offline and show what a stack declares")
    parser.add_argument("stack", help="stack name: dev, staging or prod")
    parser.add_argument("--config-file", help="stack file to read instead of stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--out", help="write the stack-export document (version 3) to this file")
    parser.set_defaults(handler=run)
