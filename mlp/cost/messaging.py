"""Messaging on the bill: SQS requests (Karpenter's interruption queue, job queues)."""

from __future__ import annotations

from decimal import Decimal

from mlp.cost.core import NUMBER, CostComponent, pricer, to_decimal


@pricer("aws:sqs/queue:Queue", monthly_requests=NUMBER, request_size_kb=NUMBER)
def _sqs_queue(resource, usage, ctx):
    fifo = bool(resource.inputs.get("fifoQueue"))  # SQS CreateQueue: a standard queue unless FifoQueue
    # SQS bills every started 64 KB chunk of a request as one request.
    chunks = max(Decimal(1), (to_decimal(usage.get("request_size_kb"), Decimal(64)) / 64).to_integral_value(rounding="ROUND_CEILING"))
    price = ctx.price("sqs", "fifoPerMillion" if fifo else "standardPerMillion")
    return [CostComponent(f"Requests ({'FIFO' if fifo else 'standard'})", "1M requests", price, to_decimal(usage.get("monthly_requests")) * chunks / 1_000_000,
                          usage_key="monthly_requests")]
