"""`mlp drift`: compare captured endpoint requests with a baseline; publish drift metrics.

The monitoring CronJob of each capturing endpoint runs it (components/monitoring.py), and anyone
with the team's data role can run it by hand on a capture prefix:

    mlp drift --endpoint demand-forecast \\
        --captures s3://acme-mlplatform-prod-artifacts/captures/forecasting/demand-forecast/ \\
        --baseline s3://acme-mlplatform-prod-features/teams/forecasting/baselines/demand.csv \\
        --features price,promo,store_size --window-hours 24 --psi-threshold 0.2 --p-value 0.001 \\
        --report s3://acme-mlplatform-prod-artifacts/drift-reports/forecasting/demand-forecast/

It reads SageMaker's capture records (capture.py) of the last `--window-hours`, computes PSI and
a two-sample KS test per feature against the baseline (stats.py), publishes per-feature and
overall metrics to CloudWatch and writes a JSON report (publish.py). Exit status: 0 whether or
not there is drift (the alarms decide what drift means for people), 2 for bad input (an
unreadable capture line, a baseline without a feature), 1 when AWS fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone

from mlp.cli import whole_number
from mlp.drift.capture import CaptureFormatError, CaptureRows, read_capture_lines
from mlp.drift.publish import NAMESPACE, DriftResult, publish_metrics, report_name, report_text
from mlp.drift.sources import Location, capture_files, location, read_baseline, write
from mlp.errors import UserError

# mlp/drift/stats.py's default; numpy and scipy are imported only when a drift run computes, so
# other `mlp` commands (which register this one) start without them.
DEFAULT_BINS = 10

__all__ = ["NAMESPACE", "DriftResult", "evaluate", "register", "run"]


def _features(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected distinct comma-separated feature names, got {value!r}")
    return names


def _threshold(low: float, high: float):
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low < number <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"expected a number above {low:g} and at most {high:g}, got {value!r}")
        return number

    return parse


def _location(value: str) -> Location:
    try:
        return location(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def evaluate(args: argparse.Namespace, s3, now: datetime) -> DriftResult:
    since = now - timedelta(hours=args.window_hours) if args.window_hours else None
    rows = CaptureRows(features=args.features)
    for name, text in capture_files(args.captures, since, s3):
        try:
            read_capture_lines(text.splitlines(), rows, since)
        except CaptureFormatError as error:
            raise UserError(name, str(error)) from None
    baseline = read_baseline(args.baseline, args.features, s3)
    from mlp.drift.stats import feature_drift

    drifts = []
    if rows.rows >= args.min_rows:
        for feature in args.features:
            if not rows.values[feature]:
                raise UserError(args.captures.text, f"no numeric value of feature {feature!r} in {rows.rows} captured rows")
            drifts.append(feature_drift(feature, baseline[feature], rows.values[feature], args.psi_threshold, args.p_value, args.bins))
    return DriftResult(
        endpoint=args.endpoint, window_start=since, window_end=now, records=rows.records, rows=rows.rows,
        skipped_records=rows.skipped_records, unreadable_values=rows.unreadable_values, min_rows=args.min_rows,
        psi_threshold=args.psi_threshold, p_value_threshold=args.p_value, features=tuple(drifts),
    )


def run(args: argparse.Namespace) -> int:
    from mlp.aws import Deadline, client

    deadline = Deadline(args.deadline_seconds)
    needs_s3 = any(where.s3 for where in (args.captures, args.baseline, args.report) if where is not None)
    s3 = client("s3", args.region, args.s3_endpoint_url, deadline=deadline) if needs_s3 else None
    result = evaluate(args, s3, datetime.now(timezone.utc))
    text = report_text(result)
    if args.report is not None:
        target = args.report.child(report_name(result)) if args.report.text.endswith("/") else args.report
        write(target, text, s3)
    if args.publish:
        cloudwatch = client("cloudwatch", args.region, args.cloudwatch_endpoint_url, deadline=deadline)
        publish_metrics(cloudwatch, result, args.namespace)
    sys.stdout.write(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("drift", help="compare captured endpoint requests with a baseline and publish drift metrics",
                                   description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument("--endpoint", required=True, help="endpoint name: the EndpointName dimension of the metrics")
    parser.add_argument("--captures", required=True, type=_location, help="s3:// prefix (or local directory) of the endpoint's capture files")
    parser.add_argument("--baseline", required=True, type=_location, help="s3:// URI (or local path) of the baseline CSV, with a header")
    parser.add_argument("--features", required=True, type=_features, help="comma-separated features, in the order of the request's columns")
    parser.add_argument("--window-hours", type=whole_number(1, 24 * 90), default=24, help="compare the captures of the last N hours (default 24)")
    parser.add_argument("--psi-threshold", type=_threshold(0, 10), default=0.2, help="a feature whose PSI reaches this has drifted (default 0.2)")
    parser.add_argument("--p-value", type=_threshold(0, 1), default=0.001, help="a feature whose KS p-value falls below this has drifted (default 0.001)")
    parser.add_argument("--min-rows", type=whole_number(1, 10**9), default=100, help="fewer captured rows than this: report insufficient data (default 100)")
    parser.add_argument("--bins", type=whole_number(2, 100), default=DEFAULT_BINS, help=f"PSI bins at the baseline's quantiles (default {DEFAULT_BINS})")
    parser.add_argument("--report", type=_location, default=None, help="write the JSON report here (a prefix ending in '/' gets a dated name)")
    parser.add_argument("--namespace", default=NAMESPACE, help=f"CloudWatch namespace (default {NAMESPACE})")
    parser.add_argument("--no-publish", dest="publish", action="store_false", help="do not publish metrics to CloudWatch")
    parser.add_argument("--region", default=env("AWS_REGION"), help="AWS region (default: the AWS SDK's)")
    parser.add_argument("--s3-endpoint-url", default=env("MLP_S3_ENDPOINT"), help="S3 endpoint override (tests, VPC endpoints)")
    parser.add_argument("--cloudwatch-endpoint-url", default=env("MLP_CLOUDWATCH_ENDPOINT"), help="CloudWatch endpoint override")
    parser.add_argument("--deadline-seconds", type=whole_number(10, 3600), default=600, help="limit for all AWS calls of the run (default 600)")
    parser.set_defaults(handler=run)
