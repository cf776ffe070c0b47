"""Load balancer settings shared by every ALB the platform asks for (the notebook hub, model
servers on the cluster): reach, certificate, deletion protection, WAF, and who may sign in."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from components.config.base import Bool, CidrText, Section, Unique, camel_case, matching, one_of, section
from components.config.errors import ConfigError, Invalid, config_key, describe

AcmCertificateArn = matching(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}", "an ACM certificate ARN like arn:aws:acm:us-east-1:123456789012:certificate/<uuid>")
WafAclArn = matching(
    r"arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/[\w-]{1,128}/[0-9a-f-]{36}",
    "a regional WAFv2 web ACL ARN like arn:aws:wafv2:us-east-1:123456789012:regional/webacl/<name>/<uuid>",
)
Hostname = matching(r"(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", "a fully qualified lowercase host name like notebooks.example.com")
HttpsUrl = matching(r"https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?", "an https:// URL")
SecretReference = matching(r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+)|([\w/+=.@-]{1,512})", "a Secrets Manager secret name or ARN")


def refuse_the_whole_internet(cidrs: tuple[str, ...], key: str, what: str) -> None:
    """Allow-lists name the networks that need something; /0 names everyone."""
    for i, block in enumerate(cidrs):
        if block.endswith("/0"):
            raise Invalid(f"{block} {what}; list the networks that need it", key, i)


@section
class LoadBalancerConfig(Section):
    """An HTTPS Application Load Balancer: where it listens, for whom, with which certificate."""

    scheme: one_of("internet-facing", "internal") = Field(default="internal", description="internal keeps the load balancer on the VPC and networks routed to it.")
    certificate_arn: AcmCertificateArn = Field(description="ACM certificate of the environment's host names, in the stack's region.")
    allowed_cidrs: Unique[CidrText] = Field(min_length=1, description="Networks that may reach the load balancer; never the whole internet (/0).")
    deletion_protection: Bool = Field(default=True, description="Whether AWS refuses to delete the load balancer (false where stacks are torn down, like dev).")
    waf_acl_arn: Optional[WafAclArn] = Field(default=None, description="A WAFv2 web ACL in front of the load balancer.")

    @model_validator(mode="after")
    def _not_the_whole_internet(self) -> "LoadBalancerConfig":
        refuse_the_whole_internet(self.allowed_cidrs, "allowedCidrs", "lets the whole internet in")
        return self


@section
class OidcSignInConfig(Section):
    """Sign-in at the load balancer through an OIDC identity provider (the ALB's authenticate-oidc action)."""

    issuer: HttpsUrl = Field(description="The identity provider's issuer.")
    authorization_endpoint: HttpsUrl = Field(description="Authorization endpoint of the identity provider.")
    token_endpoint: HttpsUrl = Field(description="Token endpoint of the identity provider.")
    user_info_endpoint: HttpsUrl = Field(description="Userinfo endpoint of the identity provider.")
    client_id: matching(r"[\w.@:/-]{1,255}", "an OAuth client id") = Field(description="OAuth client id of the load balancer.")
    client_secret_name: SecretReference = Field(description="Secrets Manager secret (name or ARN) holding the client secret, never the secret itself.")
    on_unauthenticated_request: one_of("deny", "authenticate") = Field(
        default="deny",
        description="deny answers 401 to callers without a session (API clients); authenticate sends browsers to sign in.",
    )


# ALB settings the AWS Load Balancer Controller takes from every Ingress of a group and refuses to
# merge when they differ ("Exclusive" in its annotation reference; a conflict stops the whole group).
GROUP_WIDE_SETTINGS = ("scheme", "allowed_cidrs", "deletion_protection", "waf_acl_arn")


def check_shared_load_balancer(members: list[tuple[tuple, LoadBalancerConfig, Optional[str], tuple]]) -> None:
    """Members of one shared ALB: (config key, its settings, its host name, the host name's key). They
    must agree on the group-wide settings, and each needs a host name of its own so rules tell them apart."""
    first_key, first, _, _ = members[0]
    hosts: dict[str, tuple] = {}
    for key, member, hostname, hostname_key in members:
        for setting in GROUP_WIDE_SETTINGS:
            mine, theirs = getattr(member, setting), getattr(first, setting)
            if (set(mine) != set(theirs)) if setting == "allowed_cidrs" else mine != theirs:
                raise ConfigError(config_key(*key, camel_case(setting)),
                                  f"is {describe(mine)} but {config_key(*first_key, camel_case(setting))} is {describe(theirs)}; "
                                  "one shared load balancer has one value (cluster.sharedLoadBalancer: true)")
        if hostname is None:
            raise ConfigError(config_key(*hostname_key), "is required: the shared load balancer routes to each service by host name")
        if hostname in hosts:
            raise ConfigError(config_key(*hostname_key), f"{hostname} is already the host name of {config_key(*hosts[hostname])}")
        hosts[hostname] = hostname_key
