"""Application Load Balancers the AWS Load Balancer Controller creates from Ingresses: the
annotations every platform ALB shares, and the log bucket statement their access logs need.

Every ALB listens on HTTPS only, with the stack's certificate and a TLS 1.2+ policy; takes traffic
only from the networks its config lists (the controller's security group allows nothing else);
drops invalid header fields; writes access logs into the lake's access-log bucket (SSE-S3, the
only encryption ALB log delivery supports), under `alb/<name>/`; and, where the stack says so,
refuses deletion and sits behind a WAF web ACL. The controller creates the load balancer, so
provider default tags never reach it: the cost tags travel in an annotation.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config.load_balancers import OidcSignInConfig

ANNOTATION_PREFIX = "alb.ingress.kubernetes.io/"
# A shared ALB serves several components: it is the network's, billed to the platform team.
SHARED_ALB_COMPONENT = "network"
ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ACCESS_LOG_PREFIX = "alb"
# Regions opened before August 2022 deliver ALB access logs from a regional Elastic Load Balancing
# account, not a service principal (Elastic Load Balancing User Guide, "Enable access logs").
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980", "us-west-2": "797873946194",
    "af-south-1": "098369216593", "ap-east-1": "754344448648", "ap-south-1": "718504428378", "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887", "ap-northeast-3": "383597477331", "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266", "ap-southeast-3": "589379963580", "ca-central-1": "985666609251",
    "eu-central-1": "054676820928", "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-west-3": "009996457667",
    "eu-south-1": "635631232127", "eu-north-1": "897822967062", "me-south-1": "076674570225", "sa-east-1": "507241528517",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def log_prefix(name: str) -> str:
    return f"{ACCESS_LOG_PREFIX}/{name}"


def log_delivery_statement(bucket_arn: str, account_id: str, region: str) -> dict:
    """Lets Elastic Load Balancing write this account's ALB access logs under `alb/`."""
    statement = {
        "Sid": "ApplicationLoadBalancerAccessLogs",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/{ACCESS_LOG_PREFIX}/*/AWSLogs/{account_id}/*",
    }
    if region in ELB_LOG_ACCOUNTS:
        return {**statement, "Principal": {"AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNTS[region]}:root"}}
    return {**statement, "Principal": {"Service": ELB_LOG_DELIVERY_SERVICE}, "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}


def alb_annotations(
    *,
    name: str,
    scheme: str,
    certificate_arn: str,
    allowed_cidrs: tuple[str, ...],
    log_bucket: str,
    deletion_protection: bool,
    tags: dict[str, str],
    waf_acl_arn: Optional[str] = None,
    redirect_http: bool = False,
    group: Optional[str] = None,
    shared_tags: Optional[dict[str, str]] = None,
) -> dict[str, str]:
    """The controller annotations of one HTTPS ALB; with `redirect_http`, port 80 only redirects to it.

    With `group`, the Ingress joins that ingress group's one ALB. The controller refuses a group whose
    members disagree on a load-balancer-wide setting (scheme, inbound CIDRs, attributes, WAF, SSL
    policy) or tag, so every member names the group's log prefix and `shared_tags`; config makes
    sure the rest agrees (components/config/load_balancers.py)."""
    if group:
        name, tags = group, shared_tags or tags
    attributes = [
        "routing.http.drop_invalid_header_fields.enabled=true",
        "access_logs.s3.enabled=true",
        f"access_logs.s3.bucket={log_bucket}",
        f"access_logs.s3.prefix={log_prefix(name)}",
        f"deletion_protection.enabled={str(deletion_protection).lower()}",
    ]
    annotations = {
        f"{ANNOTATION_PREFIX}scheme": scheme,
        f"{ANNOTATION_PREFIX}target-type": "ip",
        f"{ANNOTATION_PREFIX}certificate-arn": certificate_arn,
        f"{ANNOTATION_PREFIX}listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}] if redirect_http else [{"HTTPS": 443}]),
        f"{ANNOTATION_PREFIX}ssl-policy": ALB_SSL_POLICY,
        f"{ANNOTATION_PREFIX}inbound-cidrs": ",".join(allowed_cidrs),
        f"{ANNOTATION_PREFIX}load-balancer-attributes": ",".join(attributes),
        f"{ANNOTATION_PREFIX}tags": ",".join(f"{key}={value}" for key, value in sorted(tags.items())),
    }
    if group:
        annotations[f"{ANNOTATION_PREFIX}group.name"] = group
    if redirect_http:
        annotations[f"{ANNOTATION_PREFIX}ssl-redirect"] = "443"
    if waf_acl_arn:
        annotations[f"{ANNOTATION_PREFIX}wafv2-acl-arn"] = waf_acl_arn
    return annotations


OIDC_CLIENT_ID_KEY = "clientID"
OIDC_CLIENT_SECRET_KEY = "clientSecret"


def oidc_annotations(auth: OidcSignInConfig, secret_name: str) -> dict[str, str]:
    """Sign-in at the ALB (authenticate-oidc) with the client credentials in `secret_name`."""
    return {
        f"{ANNOTATION_PREFIX}auth-type": "oidc",
        f"{ANNOTATION_PREFIX}auth-idp-oidc": json.dumps({
            "issuer": auth.issuer,
            "authorizationEndpoint": auth.authorization_endpoint,
            "tokenEndpoint": auth.token_endpoint,
            "userInfoEndpoint": auth.user_info_endpoint,
            "secretName": secret_name,
        }, sort_keys=True),
        f"{ANNOTATION_PREFIX}auth-on-unauthenticated-request": auth.on_unauthenticated_request,
        f"{ANNOTATION_PREFIX}auth-scope": "openid",
    }


def oidc_client_secret(resource_name: str, auth: OidcSignInConfig, *, name: str, namespace: str, labels: dict[str, str],
                       opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """The ALB's OIDC client credentials, read from Secrets Manager into the Secret the controller reads."""
    secret = aws.secretsmanager.get_secret_version_output(secret_id=auth.client_secret_name, opts=pulumi.InvokeOutputOptions(parent=opts.parent))
    return k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
        type="Opaque",
        string_data={OIDC_CLIENT_ID_KEY: auth.client_id, OIDC_CLIENT_SECRET_KEY: pulumi.Output.secret(secret.secret_string)},
        opts=opts,
    )
