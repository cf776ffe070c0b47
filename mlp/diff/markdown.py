"""The pull-request comment: one summary across stacks with a grand total, guardrails that
tripped, then each changed stack (unchanged ones collapse to a line): replacements and deletes of
protected resources first, budgets, the change per cost tag for expected, floor and ceiling, and
the details, Infracost style: per resource, the inputs that changed and the priced lines that
moved."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from mlp.diff.compare import SCENARIOS, ResourceChange, StackDiff
from mlp.diff.properties import shown

# GitHub refuses comments above 65,536 characters and CI posts one comment for every stack:
# each stack's details stop at this many resources or characters, whichever comes first.
MAX_DETAIL_ROWS = 150
MAX_DETAIL_CHARS = 15_000
MAX_LINES_PER_RESOURCE = 12
STATUS = {"ok": "✅ within", "ceiling over": "⚠️ ceiling over", "over": "❌ over"}
MARK = {"add": "+", "remove": "-", "change": "~", "replace": "!"}


def usd(value: Decimal | None) -> str:
    return "-" if value is None else f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def signed(value: Decimal | None) -> str:
    if value is None:
        return "unbounded"
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{'+' if rounded > 0 else '-' if rounded < 0 else '±'}${abs(rounded):,}"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def percent_text(diff: StackDiff) -> str:
    if diff.percent is None:
        return "new spend" if diff.head.total else "±0%"
    return f"{'+' if diff.percent > 0 else ''}{diff.percent}%"


def heading(diff: StackDiff, title: str | None) -> str:
    prefix = f"{title}: " if title else ""
    return f"### {prefix}monthly cost {usd(diff.base.total)} → {usd(diff.head.total)} ({signed(diff.cost_change)}, {percent_text(diff)})"


def _usage_text(diff: StackDiff) -> str:
    before, after = diff.base.usage_source, diff.head.usage_source
    return f"usage `{after}`" if before == after else f"usage `{before}` → `{after}`"


def _flag_lines(diff: StackDiff) -> list[str]:
    lines = []
    for change in diff.flagged():
        what = "replaced (deleted and created again)" if change.kind == "replace" else "deleted"
        why = ", ".join(f"`{p.path}`" for p in change.properties if p.replaces) or ", ".join(f"`{p.path}`" for p in change.properties[:3])
        because = f" because {why} changed" if why and change.kind == "replace" else ""
        if change.protected:
            lines.append(f"> 🛑 **`{cell(change.name)}`** (`{change.type}`) is **protected** and would be **{what}**{because}: "
                         "Pulumi refuses to delete a protected resource, so the update fails unless its protection is lifted on purpose.")
        else:
            lines.append(f"> ⚠️ **`{cell(change.name)}`** (`{change.type}`) will be **{what}**{because}.")
    return lines


def _budget_lines(diff: StackDiff) -> list[str]:
    if not diff.budgets:
        return []
    lines = ["", "| budget | covers | limit | expected before → after | of limit | ceiling after | |", "|---|---|---:|---:|---:|---:|---|"]
    for check in diff.budgets:
        lines.append(f"| `{cell(check.budget.name)}` | {cell(check.budget.scope)} | {usd(check.budget.limit)} | {usd(check.base_expected)} → {usd(check.expected)} | "
                     f"{check.percent(check.expected)} | {'unbounded' if check.ceiling is None else usd(check.ceiling)} | {STATUS[check.status]} |")
    return lines


def _tag_lines(diff: StackDiff) -> list[str]:
    lines = []
    for key, rows in diff.by_tag().items():
        lines += ["", f"| {cell(key)} | before | after | change | floor change | ceiling change |", "|---|---:|---:|---:|---:|---:|"]
        for row in rows:
            floor, ceiling = row["floor"], row["ceiling"]
            lines.append(f"| {cell(row['value'])} | {usd(row['base'])} | {usd(row['head'])} | {signed(row['change'])} | "
                         f"{signed(floor[1] - floor[0])} | {signed(ceiling[1] - ceiling[0])} |")
    return lines


def _scenario_text(owner: Any, with_zero: bool = False) -> str:
    parts = []
    for scenario in SCENARIOS:
        change = owner.change(scenario)
        if change is not None and (with_zero or change.quantize(Decimal("0.01")) != 0):
            parts.append(f"{scenario} {signed(change)}")
    return " · ".join(parts) or "expected ±$0.00"


def resource_block(change: ResourceChange) -> list[str]:
    """One resource in the details: what it is, what it costs now, what moved."""
    flags = " (protected)" if change.protected else ""
    lines = [f"{MARK[change.kind]} {change.name}  {change.type}{' (replace)' if change.kind == 'replace' else ''}{flags}",
             f"    {_scenario_text(change, with_zero=True)}"]
    details = []
    for prop in change.properties:
        marker = "!" if prop.replaces else {"add": "+", "delete": "-"}.get(prop.kind, "~")
        details.append(f"    {marker} {prop.path}: {shown(prop.old)} → {shown(prop.new)}{'  (forces replacement)' if prop.replaces else ''}")
    for line in change.lines():
        marker = "+" if line.base is None else "-" if line.head is None else "~"
        usage = f"  [usage: {line.usage_key}]" if line.usage_key else ""
        details.append(f"    {marker} {line.name}: {_scenario_text(line)}{usage}")
    for path, old, new in change.usage_changes:
        details.append(f"    ~ usage {path}: {shown(old)} → {shown(new)}")
    if len(details) > MAX_LINES_PER_RESOURCE:
        details = details[:MAX_LINES_PER_RESOURCE] + [f"    … {len(details) - MAX_LINES_PER_RESOURCE} more (`mlp diff --format json` lists all)"]
    return lines + details


def _detail_lines(diff: StackDiff) -> list[str]:
    if not diff.changes:
        return ["", "No resource changes."]
    ordered = sorted(diff.changes, key=lambda c: (not c.flagged, -max(abs(c.change(s)) for s in SCENARIOS), c.kind, c.urn))
    lines = ["", f"<details><summary>Cost details: {len(ordered)} resource change(s), the inputs that changed and the priced lines that moved</summary>", "", "```diff"]
    used = shown_count = 0
    for change in ordered[:MAX_DETAIL_ROWS]:
        block = resource_block(change)
        size = sum(len(line) + 1 for line in block)
        if used + size > MAX_DETAIL_CHARS:
            break
        lines += block + [""]
        used, shown_count = used + size, shown_count + 1
    if len(ordered) > shown_count:
        lines.append(f"  … and {len(ordered) - shown_count} more resource change(s) (`mlp diff --format json` lists all)")
    return lines + ["```", "", "</details>"]


def render_stack(diff: StackDiff, title: str | None = None) -> list[str]:
    head = diff.head
    counts = ", ".join(f"{diff.count(kind)} to {verb}" for kind, verb in (("add", "add"), ("change", "change"), ("replace", "replace"), ("remove", "remove")))
    lines = [
        heading(diff, title),
        "",
        f"**{counts}** · region {head.region} · prices as of {head.catalogue.as_of or 'n/a'} · priced on {head.on} · {_usage_text(diff)} · a month is 730 h",
        "",
        f"Floor (minimum scale) {usd(diff.total('base', 'floor'))} → {usd(diff.total('head', 'floor'))} ({signed(diff.change('floor'))}) · "
        f"ceiling (every pool at its limit) {usd(diff.total('base', 'ceiling'))} → {usd(diff.total('head', 'ceiling'))} ({signed(diff.change('ceiling'))}) · "
        f"fixed {usd(diff.base.fixed_total)} → {usd(head.fixed_total)} · usage-based {usd(diff.base.usage_total)} → {usd(head.usage_total)}",
    ]
    flags = _flag_lines(diff)
    if flags:
        lines += [""] + flags
    not_priced = head.not_priced_by_type()
    if not_priced:
        lines += ["", f"⚠️ {sum(not_priced.values())} resource(s) not priced, not in the totals: " + ", ".join(f"{n} x `{kind}`" for kind, n in not_priced.items())]
    unverified = head.unverified_lines()
    if unverified:
        lines += ["", f"ℹ️ {unverified} priced line(s) use catalogue entries no one has checked against a source (`mlp cost --format json` names each entry's source)."]
    if diff.usage_changes:
        lines += ["", "Usage file changes: " + "; ".join(f"`{path}` {shown(old)} → {shown(new)}" for path, old, new in diff.usage_changes[:10])
                  + (f"; … {len(diff.usage_changes) - 10} more" if len(diff.usage_changes) > 10 else "")]
    return lines + _budget_lines(diff) + _tag_lines(diff) + _detail_lines(diff)


def collapsed(diff: StackDiff, title: str) -> str:
    return (f"**{title}**: no change · {usd(diff.head.total)} a month (floor {usd(diff.total('head', 'floor'))}, "
            f"ceiling {usd(diff.total('head', 'ceiling')) if diff.total('head', 'ceiling') is not None else 'unbounded'})")


def render_markdown(diff: StackDiff, title: str | None = None) -> str:
    """One stack's comment (`mlp diff BASE HEAD`)."""
    return "\n".join(render_stack(diff, title)) + "\n"


def _budget_cell(diff: StackDiff) -> str:
    worst = max((check.status for check in diff.budgets), key=["ok", "ceiling over", "over"].index, default=None)
    return "-" if worst is None else STATUS[worst]


def trip_lines(trips: list[str]) -> str:
    return "".join(f"> ⛔ **Guardrail tripped**: {trip}\n" for trip in trips) + ("\n" if trips else "")


def render_summary(stacks: list[tuple[str, StackDiff]], trips: list[str], footer: str) -> str:
    """Every stack of a pull request in one comment."""
    lines: list[str] = [f"> ⛔ **Guardrail tripped**: {trip}" for trip in trips] + ([""] if trips else [])
    if len(stacks) > 1:
        totals = {side: {s: sum((d.total(side, s) or Decimal(0) for _, d in stacks), Decimal(0)) for s in SCENARIOS} for side in ("base", "head")}
        unbounded = any(d.total(side, "ceiling") is None for _, d in stacks for side in ("base", "head"))
        change = totals["head"]["expected"] - totals["base"]["expected"]
        lines += [f"### All stacks: monthly cost {usd(totals['base']['expected'])} → {usd(totals['head']['expected'])} ({signed(change)})", "",
                  "| stack | before | after | change | floor change | ceiling change | budgets |", "|---|---:|---:|---:|---:|---:|---|"]
        for name, diff in stacks:
            lines.append(f"| `{cell(name)}` | {usd(diff.base.total)} | {usd(diff.head.total)} | {'no change' if diff.unchanged else signed(diff.cost_change)} | "
                         f"{signed(diff.change('floor'))} | {signed(diff.change('ceiling'))} | {_budget_cell(diff)} |")
        ceiling_change = None if unbounded else totals["head"]["ceiling"] - totals["base"]["ceiling"]
        lines += [f"| **total** | **{usd(totals['base']['expected'])}** | **{usd(totals['head']['expected'])}** | **{signed(change)}** | "
                  f"{signed(totals['head']['floor'] - totals['base']['floor'])} | {signed(ceiling_change)} | |", ""]
    for name, diff in stacks:
        title = f"Stack `{name}`"
        if diff.unchanged and len(stacks) > 1:
            lines += [collapsed(diff, title), ""]
        else:
            lines += render_stack(diff, title) + [""]
    return "\n".join(lines + [footer]) + "\n"
