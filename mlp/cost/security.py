"""Keys and secrets on the bill: KMS customer managed keys and Secrets Manager secrets, each a
monthly fee plus its API requests."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.core import NUMBER, CostComponent, pricer, to_decimal


@pricer("aws:kms/key:Key", monthly_requests=NUMBER)
def _kms_key(resource, usage, ctx):
    return [
        CostComponent("Customer managed key", "months", ctx.catalogue.price("kms", "keyMonth"), Decimal(1)),
        CostComponent("Requests", "10k requests", ctx.catalogue.price("kms", "requestsPer10k"), to_decimal(usage.get("monthly_requests")) / 10_000, usage_based=True),
    ]


@pricer("aws:secretsmanager/secret:Secret", monthly_requests=NUMBER)
def _secret(resource, usage, ctx):
    return [CostComponent("Secret", "months", ctx.catalogue.price("secretsmanager", "secretMonth"), Decimal(1)),
            CostComponent("API requests", "10k requests", ctx.catalogue.price("secretsmanager", "requestsPer10k"), to_decimal(usage.get("monthly_requests")) / 10_000, usage_based=True)]
