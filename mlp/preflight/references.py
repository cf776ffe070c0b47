"""What a stack file references that the stack cannot create itself, read from the validated
config: each reference keeps the stack-file key it came from, so every preflight line names it."""

from __future__ import annotations

from dataclasses import dataclass
import dataclasses
from typing import Any, Iterator, Optional

from components.config import ImageRef, PlatformConfig, S3Location, image_ref
from components.config.base import camel_case
from components.config.errors import PROJECT_NAMESPACE

NOTEBOOKS = "mlplatform:notebooks"
CLUSTER = "mlplatform:cluster"
REGISTRIES = "mlplatform:registries"
ENDPOINTS = "mlplatform:endpoints"
BATCH_JOBS = "mlplatform:batchJobs"
CI_RUNNER = "mlplatform:ciRunner"


@dataclass(frozen=True)
class Certificate:
    key: str
    arn: str
    hostname: Optional[str]  # the name it must cover, where the stack file says one


@dataclass(frozen=True)
class Image:
    key: str
    ref: ImageRef
    repository: str  # ECR repository name
    registry_id: Optional[str]  # None: the stack's account
    region: str
    platform_repository: bool  # created by the stack (mlplatform:registries)

    @property
    def shown(self) -> str:
        return f"{self.repository}{self.ref.reference}"


@dataclass(frozen=True)
class Artifact:
    key: str
    location: S3Location


@dataclass(frozen=True)
class References:
    certificates: list[Certificate]
    secrets: list[tuple[str, str]]  # (key, name or ARN)
    roles: list[tuple[str, str]]  # (key, role ARN)
    images: list[Image]
    artifacts: list[Artifact]
    model_packages: list[tuple[str, str]]  # (key, model package ARN)
    connections: list[tuple[str, str]]  # (key, CodeConnections ARN)


def _image(key: str, ref: ImageRef, config: PlatformConfig) -> Optional[Image]:
    if ref.repository is not None:
        return Image(key, ref, f"{config.name_prefix}/{ref.repository}", None, config.region, True)
    parts = ref.ecr_repository_arn_parts
    if parts is None:
        return None  # not ECR: a public registry the nodes pull from; nothing to look up
    region, account, repository = parts
    return Image(key, ref, repository, account, region, False)


def _profile_image(key: str, profile, config: PlatformConfig) -> Optional[Image]:
    reference = f"{profile.repository}:{profile.tag}" if profile.repository is not None else profile.image
    return _image(key, image_ref(reference, key), config)


def collect(config: PlatformConfig) -> References:
    certificates: list[Certificate] = []
    secrets: list[tuple[str, str]] = []
    images: list[Image] = []
    artifacts: list[Artifact] = []
    packages: list[tuple[str, str]] = []

    notebooks = config.notebooks
    certificates.append(Certificate(f"{NOTEBOOKS}.ingress.certificateArn", notebooks.ingress.certificate_arn, notebooks.hostname))
    if notebooks.auth.client_secret_name:
        secrets.append((f"{NOTEBOOKS}.auth.clientSecretName", notebooks.auth.client_secret_name))
    for index, profile in enumerate(notebooks.profiles):
        found = _profile_image(f"{NOTEBOOKS}.profiles[{index}]", profile, config)
        if found:
            images.append(found)

    # Every image and every model or baseline file anywhere in the config, whichever capability
    # declares it: the walk names each by its stack-file key.
    for key, name, value in walk(config):
        if isinstance(value, ImageRef):
            images.extend(i for i in [_image(key, value, config)] if i)
        elif isinstance(value, S3Location) and name in READ_FILES:
            artifacts.append(Artifact(key, value))
        elif isinstance(value, str) and name == "model_source":
            packages.append((key, value))
        elif isinstance(value, str) and name in SECRET_FIELDS:
            secrets.append((key, value))
    for index, endpoint in enumerate(config.endpoints):
        if endpoint.kubernetes is not None:
            ingress = endpoint.kubernetes.ingress
            certificates.append(Certificate(f"{ENDPOINTS}[{index}].kubernetes.ingress.certificateArn", ingress.certificate_arn,
                                            getattr(ingress, "hostname", None)))

    roles = [(f"{CLUSTER}.deployRoleArn", config.cluster.deploy_role_arn)]
    roles += [(f"{CLUSTER}.adminRoleArns[{i}]", arn) for i, arn in enumerate(config.cluster.admin_role_arns)]
    roles += [(f"{REGISTRIES}.modelApproverRoleArns[{i}]", arn) for i, arn in enumerate(config.registries.model_approver_role_arns)]
    connections = [(f"{CI_RUNNER}.connectionArn", config.ci_runner.connection_arn)] if config.ci_runner else []
    return References(certificates, secrets, roles, _unique_images(images), artifacts, packages, connections)


# Fields that name a Secrets Manager secret (beside the notebooks' client secret): the upstream
# credentials of ECR pull-through cache rules.
SECRET_FIELDS = ("credential_arn",)
# Fields whose S3 object (or prefix) a workload reads at start: models and drift baselines.
READ_FILES = ("model", "model_source", "baseline")


def walk(value: Any, key: str = "", name: str = "") -> Iterator[tuple[str, str, Any]]:
    """(stack-file key, field name, value) of every field of a config model, depth first."""
    if dataclasses.is_dataclass(value) and not isinstance(value, (ImageRef, S3Location)):
        for item in dataclasses.fields(value):
            if item.name == "stack":
                continue
            child_key = f"{PROJECT_NAMESPACE}:{camel_case(item.name)}" if not key else f"{key}.{camel_case(item.name)}"
            if item.name == "model_source":
                child_key = f"{key}.model"
            yield from walk(getattr(value, item.name), child_key, item.name)
    elif isinstance(value, tuple) and not (len(value) == 2 and isinstance(value[0], str) and not dataclasses.is_dataclass(value[1])):
        for index, item in enumerate(value):
            yield from walk(item, f"{key}[{index}]", name)
    else:
        yield key, name, value


def _unique_images(images: list[Image]) -> list[Image]:
    """One look-up per image: the first key that references it names it."""
    seen: set[tuple] = set()
    unique = []
    for image in images:
        identity = (image.registry_id, image.region, image.repository, image.ref.reference)
        if identity not in seen:
            seen.add(identity)
            unique.append(image)
    return unique


def arn_account(arn: str) -> str:
    return arn.split(":")[4]


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def iter_strings(value, key: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a raw stack-file value with its dotted key."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from iter_strings(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from iter_strings(item, f"{key}[{index}]")
    elif isinstance(value, str):
        yield key, value
