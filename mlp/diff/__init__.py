"""`mlp diff`: what a change adds, changes, replaces and removes, and what it does to the bill.

Resources are matched by URN. Each changed resource lists the inputs that changed, old -> new
(from a preview's `detailedDiff`, or computed between two exports), and the priced lines that
moved, expected, at the floor and at the ceiling; a replacement, and the deletion of a protected
resource, is flagged first. The base is priced with the base's usage file and the head with the
head's, so a usage change is priced too. Each stack's budgets are checked against its new
expected and ceiling cost, and options make CI fail on them. Several stacks make one comment
with a grand total. `--format markdown` is the pull-request comment, `--format json` is for
machines (with metadata that traces it to the tool, prices and usage that made it).

compare.py computes a stack's change, properties.py the input changes and replacements,
budgets.py the guardrails, markdown.py and machine.py the outputs, command.py the CLI.
"""

from mlp.diff.command import GUARDRAIL_EXIT, guardrail_trips, register, run
from mlp.diff.compare import LineChange, ResourceChange, StackDiff, compare, diff_resources, usage_changes
from mlp.diff.machine import as_json, stack_json
from mlp.diff.markdown import MAX_DETAIL_CHARS, MAX_DETAIL_ROWS, render_markdown, render_summary

Diff = StackDiff  # the name of earlier versions

__all__ = [
    "GUARDRAIL_EXIT", "MAX_DETAIL_CHARS", "MAX_DETAIL_ROWS", "Diff", "LineChange", "ResourceChange", "StackDiff", "as_json", "compare",
    "diff_resources", "guardrail_trips", "register", "render_markdown", "render_summary", "run", "stack_json", "usage_changes",
]
