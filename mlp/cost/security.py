"""Keys and secrets on the bill: KMS customer managed keys and Secrets Manager secrets (each
replica region a secret of its own), each a monthly fee plus its API requests."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.core import NUMBER, CostComponent, pricer, to_decimal


@pricer("aws:kms/key:Key", monthly_requests=NUMBER)
def _kms_key(resource, usage, ctx):
    return [
        CostComponent("Customer managed key", "months", ctx.price("kms", "keyMonth"), Decimal(1)),
        CostComponent("Requests", "10k requests", ctx.price("kms", "requestsPer10k"), to_decimal(usage.get("monthly_requests")) / 10_000, usage_key="monthly_requests"),
    ]


@pricer("aws:secretsmanager/secret:Secret", monthly_requests=NUMBER)
def _secret(resource, usage, ctx):
    replicas = len(resource.inputs.get("replicas") or [])
    label = f"Secret (+{replicas} replica{'s' if replicas != 1 else ''}, each billed as a secret)" if replicas else "Secret"
    return [CostComponent(label, "months", ctx.price("secretsmanager", "secretMonth"), Decimal(1 + replicas)),
            CostComponent("API requests", "10k requests", ctx.price("secretsmanager", "requestsPer10k"), to_decimal(usage.get("monthly_requests")) / 10_000,
                          usage_key="monthly_requests")]
