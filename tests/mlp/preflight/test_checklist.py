"""docs/deploy.md's placeholder checklist is generated from the schema and the stack files."""

from __future__ import annotations

from mlp.preflight import checklist
from mlp.preflight.placeholders import find_placeholders


def test_the_guides_checklist_is_current():
    guide = checklist.GUIDE.read_text(encoding="utf-8")
    assert checklist.updated(guide) == guide, "stale: run `python -m mlp.preflight.checklist`"


def test_every_placeholder_of_every_stack_has_a_row_with_a_description():
    rows = {key: (description, stacks) for key, description, stacks, _ in checklist.rows()}
    for stack in checklist.STACKS:
        for placeholder in find_placeholders(checklist._config(stack)):
            key = checklist._INDEX.sub("[]", placeholder.key)
            assert stack in rows[key][1]
            assert rows[key][0], f"{key}: the schema has no description for it"


def test_descriptions_come_from_the_schema():
    import json

    schema = json.loads(checklist.SCHEMA.read_text())
    assert checklist.describe(schema, "mlplatform:notebooks.hostname").startswith("Host name users open the hub at.")
    assert checklist.describe(schema, "mlplatform:cluster.deployRoleArn").startswith("The role `pulumi up` assumes")
    assert "ACM certificate" in checklist.describe(schema, "mlplatform:endpoints[1].kubernetes.ingress.certificateArn")
