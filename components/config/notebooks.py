"""Notebook settings: JupyterHub with CPU, GPU and RStudio profiles, sign-in and idle culling."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, ValidationInfo, model_validator

from components.config.base import (
    Bool,
    ChartVersion,
    DnsLabel,
    ImageTag,
    Int,
    Number,
    Pairs,
    Section,
    Text,
    Unique,
    matching,
    no_duplicates,
    one_line,
    one_of,
    section,
)
from components.config.errors import Invalid
from components.config.load_balancers import Hostname, HttpsUrl, LoadBalancerConfig, SecretReference

PROFILE_KINDS = ("cpu", "gpu", "rstudio")
AUTH_TYPES = ("oidc", "dummy")
# Only these environments may run JupyterHub without a real identity provider.
INSECURE_AUTH_ENVIRONMENTS = ("dev",)

ImageReference = matching(
    r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})",
    "a full image reference with a registry and a tag or digest, like quay.io/jupyter/scipy-notebook:2025-01-13",
)
Claim = matching(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}", "a token claim name")
Group = matching(r"[^\s,]{1,128}", "an identity-provider group name without spaces or commas")
Scope = matching(r"[\w.:/-]{1,128}", "an OAuth scope")


@section
class NotebookProfileConfig(Section):
    """A server size users pick when they start a notebook server."""

    name: DnsLabel = Field(description="Profile name (its slug in the spawner form).")
    display_name: one_line(80, "display name") = Field(description="What users see in the profile list.")
    description: one_line(300, "description") = Field(default="", description="A line under the display name.")
    kind: one_of(*PROFILE_KINDS) = Field(description="cpu or rstudio servers run on a CPU pool, gpu servers on a GPU pool.")
    cpu: Number = Field(ge=0.25, le=192, description="CPU cores guaranteed to the server.")
    memory_gi: Int = Field(ge=1, le=1536, description="Memory (GiB) guaranteed to the server.")
    gpus: Int = Field(default=0, ge=0, le=8, description="NVIDIA GPUs of a gpu profile (1-8); other kinds have none.")
    repository: Optional[Text] = Field(default=None, description="A platform repository (mlplatform:registries) the image comes from; with tag.")
    tag: Optional[ImageTag] = Field(default=None, description="Image tag in repository; pinned, never latest.")
    image: Optional[ImageReference] = Field(default=None, description="A full image reference instead of repository + tag.")
    default: Bool = Field(default=False, description="Whether this profile is preselected (one profile at most).")
    start_timeout_seconds: Optional[Int] = Field(
        default=None,
        ge=60,
        le=3600,
        description="Seconds the server may take to start; required for gpu profiles and longer than the hub's (GPU nodes scale from zero).",
    )

    @model_validator(mode="after")
    def _gpus_and_image(self) -> "NotebookProfileConfig":
        if self.kind == "gpu" and not self.gpus:
            raise Invalid("is required for gpu profiles (1 to 8 GPUs)", "gpus")
        if self.kind != "gpu" and self.gpus:
            raise Invalid(f"only gpu profiles request GPUs; this profile is {self.kind!r}", "gpus")
        if self.image is not None and (self.repository is not None or self.tag is not None):
            raise Invalid("give either image or repository + tag, not both", "image")
        if self.image is None:
            if self.repository is None:
                raise Invalid("is required (a repository of mlplatform:registries) unless image is given", "repository")
            if self.tag is None:
                raise Invalid("is required with repository (pin the image; tags are immutable outside dev)", "tag")
        if self.tag == "latest" or (self.image or "").endswith(":latest"):
            raise Invalid("'latest' is not a pinned image; use a version tag", "tag" if self.tag else "image")
        return self


@section
class NotebookAuthConfig(Section):
    """How users sign in: an OIDC identity provider, or (dev only) a dummy authenticator."""

    type: one_of(*AUTH_TYPES) = Field(description="oidc, or dummy (dev only: anyone can sign in).")
    client_id: Optional[matching(r"[\w.@:/-]{1,255}", "an OAuth client id")] = Field(default=None, description="OAuth client id of the hub (oidc).")
    client_secret_name: Optional[SecretReference] = Field(default=None, description="Secrets Manager secret (name or ARN) holding the client secret, never the secret itself (oidc).")
    authorize_url: Optional[HttpsUrl] = Field(default=None, description="Authorization endpoint of the identity provider (oidc).")
    token_url: Optional[HttpsUrl] = Field(default=None, description="Token endpoint of the identity provider (oidc).")
    userdata_url: Optional[HttpsUrl] = Field(default=None, description="Userinfo endpoint of the identity provider (oidc).")
    username_claim: Claim = Field(default="preferred_username", description="Claim that names the user.")
    groups_claim: Claim = Field(default="groups", description="Claim that lists the user's groups.")
    scopes: Unique[Scope] = Field(default=("openid", "profile", "email"), min_length=1, description="OAuth scopes requested; must include openid.")
    admin_groups: Unique[Group] = Field(default=(), description="Identity-provider groups whose members administer the hub.")
    team_groups: Pairs[str, Group] = Field(default=(), description="Identity-provider group of every team (oidc): members get that team's profiles and data access.")

    @classmethod
    def _prepare(cls, data: dict, info: ValidationInfo) -> dict:
        if data.get("type") == "dummy":
            extra = sorted(str(key) for key in data if key != "type")
            if extra:
                raise Invalid("applies only to type oidc; a dummy authenticator takes no identity-provider settings", extra[0])
        return data

    @model_validator(mode="after")
    def _oidc_settings(self) -> "NotebookAuthConfig":
        if self.type != "oidc":
            return self
        self._require("clientId", "clientSecretName", "authorizeUrl", "tokenUrl", "userdataUrl", why=" with type oidc")
        if "openid" not in self.scopes:
            raise Invalid("expected the 'openid' scope (the hub reads OIDC claims)", "scopes")
        return self


@section
class NotebookCullingConfig(Section):
    """Idle culling: servers nobody uses stop, so their nodes can go."""

    enabled: Bool = Field(description="Whether idle servers are stopped.")
    idle_timeout_minutes: Int = Field(ge=5, le=10080, description="Minutes without activity before a server stops.")
    check_interval_minutes: Int = Field(ge=1, le=60, description="Minutes between checks; shorter than idleTimeoutMinutes.")
    max_age_hours: Int = Field(ge=0, le=720, description="Hours after which a server stops even if active; 0 for no maximum.")

    @model_validator(mode="after")
    def _intervals(self) -> "NotebookCullingConfig":
        if self.check_interval_minutes >= self.idle_timeout_minutes:
            raise Invalid(f"must be shorter than idleTimeoutMinutes ({self.idle_timeout_minutes}), got {self.check_interval_minutes}", "checkIntervalMinutes")
        if self.max_age_hours and self.max_age_hours * 60 < self.idle_timeout_minutes:
            raise Invalid(
                f"must be 0 (no maximum) or at least idleTimeoutMinutes ({self.idle_timeout_minutes} minutes), got {self.max_age_hours} hours",
                "maxAgeHours",
            )
        return self


@section
class NotebookIngressConfig(LoadBalancerConfig):
    """The hub's load balancer: HTTPS with the certificate of hostname, plain HTTP only redirected,
    access logs in the lake's access-log bucket."""


@section
class NotebooksConfig(Section):
    """JupyterHub: profiles, sign-in, culling, per-user storage."""

    chart_version: ChartVersion = Field(description="JupyterHub Helm chart version.")
    chart_pin_reason: Optional[Text] = Field(default=None, description="Why this stack pins a different JupyterHub chart version than the other stacks.")
    hostname: Hostname = Field(description="Host name users open the hub at.")
    start_timeout_seconds: Int = Field(ge=60, le=3600, description="Seconds a server may take to start, unless its profile says otherwise.")
    storage_capacity_gi: Int = Field(ge=1, le=16384, description="Size (GiB) of each user's volume, which survives culling.")
    ingress: NotebookIngressConfig = Field(description="The hub's load balancer.")
    auth: NotebookAuthConfig = Field(description="How users sign in.")
    culling: NotebookCullingConfig = Field(description="Idle culling.")
    profiles: tuple[NotebookProfileConfig, ...] = Field(min_length=1, description="Server profiles users choose from.")

    @model_validator(mode="after")
    def _profiles(self) -> "NotebooksConfig":
        no_duplicates("profile", [profile.name for profile in self.profiles], "profiles")
        defaults = [i for i, profile in enumerate(self.profiles) if profile.default]
        if len(defaults) > 1:
            raise Invalid("only one profile can be the default", "profiles", defaults[1], "default")
        for i, profile in enumerate(self.profiles):
            if profile.kind != "gpu":
                continue
            # GPU nodes scale from zero: a node must launch and pull a large image before the pod starts.
            if profile.start_timeout_seconds is None:
                raise Invalid(
                    f"is required for gpu profiles (longer than startTimeoutSeconds {self.start_timeout_seconds}: GPU nodes scale from zero)",
                    "profiles", i, "startTimeoutSeconds",
                )
            if profile.start_timeout_seconds <= self.start_timeout_seconds:
                raise Invalid(
                    f"must be longer than startTimeoutSeconds ({self.start_timeout_seconds}) because GPU nodes scale from zero, got {profile.start_timeout_seconds}",
                    "profiles", i, "startTimeoutSeconds",
                )
        return self
