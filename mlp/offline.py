"""Run the Pulumi program offline under Pulumi's mocks and record what it declares.

No Pulumi CLI, provider plugin, credentials or network: the program (`__main__.py`) runs inside
the SDK's mock monitor. Every registration is recorded with what a real deployment would store
(type, name, parent, provider, inputs, protect, ...) and turned into a stack-export document
(version 3) shaped like `pulumi stack export`, so every later step reads one format.

Known pitfalls handled here (see DESIGN.md): the root resource is reset before each run, the
program runs inside `pulumi.runtime.test` so every registration has finished before we read,
and runs are never previews (unknown outputs would make `apply` callbacks silently skip).
"""

from __future__ import annotations

import base64
import hashlib
import runpy
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

from components.tagging import is_taggable
from mlp import PROJECT_ROOT
from mlp.state import decode_default_tags

PROJECT = "mlplatform"
MOCK_ACCOUNT_ID = "123456789012"

# Outputs the real providers compute that the program reads back (ARNs, endpoints, ids), by type.
# Each takes (inputs, resource name, region) and returns outputs to add to the inputs.
OutputSynthesizer = Callable[[dict, str, str], dict]
SYNTHETIC_OUTPUTS: dict[str, OutputSynthesizer] = {}


def synthesizes(*type_tokens: str):
    def register(function: OutputSynthesizer) -> OutputSynthesizer:
        for token in type_tokens:
            SYNTHETIC_OUTPUTS[token] = function
        return function

    return register


@synthesizes("aws:s3/bucket:Bucket")
def _bucket_outputs(inputs: dict, name: str, region: str) -> dict:
    bucket = inputs.get("bucket", name)
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com", "region": region}


@synthesizes("aws:iam/role:Role")
def _role_outputs(inputs: dict, name: str, region: str) -> dict:
    role_name = inputs.get("name", name)
    return {"name": role_name, "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{role_name}", "uniqueId": "AROA" + _digest(name, 17).upper()}


@synthesizes("aws:iam/policy:Policy")
def _policy_outputs(inputs: dict, name: str, region: str) -> dict:
    policy_name = inputs.get("name", name)
    return {"name": policy_name, "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:policy/{policy_name}"}


@synthesizes("aws:kms/key:Key")
def _kms_outputs(inputs: dict, name: str, region: str) -> dict:
    key_id = _uuid(name)
    return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{MOCK_ACCOUNT_ID}:key/{key_id}"}


@synthesizes("aws:glue/catalogDatabase:CatalogDatabase")
def _glue_database_outputs(inputs: dict, name: str, region: str) -> dict:
    return {"arn": f"arn:aws:glue:{region}:{MOCK_ACCOUNT_ID}:database/{inputs.get('name', name)}"}


def _sagemaker_named(arn_kind: str) -> OutputSynthesizer:
    # Models and endpoint configurations are auto-named the way Pulumi does: resource name + suffix.
    def outputs(inputs: dict, name: str, region: str) -> dict:
        resource_name = inputs.get("name") or f"{name}-{_digest(name, 7)}"
        return {"name": resource_name, "arn": f"arn:aws:sagemaker:{region}:{MOCK_ACCOUNT_ID}:{arn_kind}/{resource_name.lower()}"}

    return outputs


synthesizes("aws:sagemaker/model:Model")(_sagemaker_named("model"))
synthesizes("aws:sagemaker/endpointConfiguration:EndpointConfiguration")(_sagemaker_named("endpoint-config"))
synthesizes("aws:sagemaker/endpoint:Endpoint")(_sagemaker_named("endpoint"))


@synthesizes("aws:cloudwatch/metricAlarm:MetricAlarm")
def _metric_alarm_outputs(inputs: dict, name: str, region: str) -> dict:
    alarm = inputs.get("name", name)
    return {"name": alarm, "arn": f"arn:aws:cloudwatch:{region}:{MOCK_ACCOUNT_ID}:alarm:{alarm}"}


@synthesizes("aws:appautoscaling/target:Target")
def _scalable_target_outputs(inputs: dict, name: str, region: str) -> dict:
    return {"arn": f"arn:aws:application-autoscaling:{region}:{MOCK_ACCOUNT_ID}:scalable-target/{_digest(name, 28)}"}


@synthesizes("aws:cloudwatch/logGroup:LogGroup")
def _log_group_outputs(inputs: dict, name: str, region: str) -> dict:
    return {"arn": f"arn:aws:logs:{region}:{MOCK_ACCOUNT_ID}:log-group:{inputs.get('name', name)}"}


@synthesizes("aws:ecr/repository:Repository")
def _ecr_repository_outputs(inputs: dict, name: str, region: str) -> dict:
    repository = inputs.get("name", name)
    return {
        "arn": f"arn:aws:ecr:{region}:{MOCK_ACCOUNT_ID}:repository/{repository}",
        "registryId": MOCK_ACCOUNT_ID,
        "repositoryUrl": f"{MOCK_ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{repository}",
    }


@synthesizes("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
def _model_package_group_outputs(inputs: dict, name: str, region: str) -> dict:
    group = inputs.get("modelPackageGroupName", name)
    return {"arn": f"arn:aws:sagemaker:{region}:{MOCK_ACCOUNT_ID}:model-package-group/{group}"}


@synthesizes("aws:eks/cluster:Cluster")
def _eks_cluster_outputs(inputs: dict, name: str, region: str) -> dict:
    cluster = inputs.get("name", name)
    cluster_id = _digest(cluster, 32).upper()
    return {
        "arn": f"arn:aws:eks:{region}:{MOCK_ACCOUNT_ID}:cluster/{cluster}",
        "endpoint": f"https://{cluster_id}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": base64.b64encode(f"offline-plan CA of {cluster}".encode()).decode()},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{cluster_id}"}]}],
        "vpcConfig": {**(inputs.get("vpcConfig") or {}), "clusterSecurityGroupId": f"sg-{_digest(cluster, 17)}"},
        "status": "ACTIVE",
    }


@synthesizes("aws:eks/nodeGroup:NodeGroup")
def _eks_node_group_outputs(inputs: dict, name: str, region: str) -> dict:
    group = inputs.get("nodeGroupName", name)
    return {"arn": f"arn:aws:eks:{region}:{MOCK_ACCOUNT_ID}:nodegroup/{inputs.get('clusterName', 'cluster')}/{group}/{_uuid(group)}", "status": "ACTIVE"}


@synthesizes("aws:ec2/launchTemplate:LaunchTemplate")
def _launch_template_outputs(inputs: dict, name: str, region: str) -> dict:
    template_id = f"lt-{_digest(name, 17)}"
    return {"arn": f"arn:aws:ec2:{region}:{MOCK_ACCOUNT_ID}:launch-template/{template_id}", "latestVersion": 1, "defaultVersion": 1}


@synthesizes("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _oidc_provider_outputs(inputs: dict, name: str, region: str) -> dict:
    issuer = str(inputs.get("url", name)).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:oidc-provider/{issuer}"}


@synthesizes("aws:sqs/queue:Queue")
def _sqs_queue_outputs(inputs: dict, name: str, region: str) -> dict:
    queue = inputs.get("name", name)
    return {"arn": f"arn:aws:sqs:{region}:{MOCK_ACCOUNT_ID}:{queue}", "url": f"https://sqs.{region}.amazonaws.com/{MOCK_ACCOUNT_ID}/{queue}"}


@synthesizes("aws:cloudwatch/eventRule:EventRule")
def _event_rule_outputs(inputs: dict, name: str, region: str) -> dict:
    return {"arn": f"arn:aws:events:{region}:{MOCK_ACCOUNT_ID}:rule/{inputs.get('name', name)}"}


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _uuid(text: str) -> str:
    h = _digest(text, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _generic_outputs(type_token: str, inputs: dict, name: str, region: str) -> dict:
    """An ARN in the service's shape for any type without a dedicated synthesizer."""
    package, _, rest = type_token.partition(":")
    if package != "aws":
        return {}
    service = rest.split("/")[0]
    kind = type_token.rsplit(":", 1)[-1]
    resource_kind = "".join("-" + ch.lower() if ch.isupper() else ch for ch in kind).lstrip("-")
    return {"arn": f"arn:aws:{service}:{region}:{MOCK_ACCOUNT_ID}:{resource_kind}/{inputs.get('name', name)}"}


class PlatformMocks(pulumi.runtime.Mocks):
    """Answers registrations and invokes the way AWS would, deterministically."""

    def __init__(self, region: str):
        self.region = region
        self.invokes: list[tuple[str, dict]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ.startswith("pulumi:providers:"):
            return _uuid(args.name), dict(args.inputs)
        outputs = _generic_outputs(args.typ, args.inputs, args.name, self.region)
        outputs.update(args.inputs)
        synthesize = SYNTHETIC_OUTPUTS.get(args.typ)
        if synthesize:
            outputs.update(synthesize(args.inputs, args.name, self.region))
        resource_id = args.resource_id or f"{args.name}-{_digest(args.typ + args.name, 7)}"
        outputs.setdefault("id", resource_id)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": MOCK_ACCOUNT_ID, "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/offline-plan", "userId": "AIDAOFFLINEPLAN", "id": MOCK_ACCOUNT_ID}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            # Offline plans never see real secrets: a fixed stand-in value, recognisable as such.
            secret_id = args.args.get("secretId", "")
            arn = secret_id if secret_id.startswith("arn:") else f"arn:aws:secretsmanager:{self.region}:{MOCK_ACCOUNT_ID}:secret:{secret_id}-{_digest(secret_id, 6)}"
            return {"arn": arn, "id": f"{arn}|AWSCURRENT", "secretId": secret_id, "secretString": "offline-plan-secret-value",
                    "versionId": _uuid(secret_id), "versionStage": "AWSCURRENT", "versionStages": ["AWSCURRENT"]}
        return {}


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    dependencies: list[str]
    id: str | None = None
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping the options a stack export records."""

    def __init__(self, mocks: PlatformMocks):
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # Real URNs carry the whole chain of ancestor types (not the root stack's); the SDK's
        # mock monitor keeps only the parent's last type.
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                type_ = f"{parent_type}${type_}"
        return "::".join(["urn:pulumi:" + pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        registration = self.resources.get(response.urn)
        self.recorded.append(RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            provider=request.provider,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            dependencies=sorted(set(request.dependencies)),  # the SDK gathers them in a set
            id=registration.id if registration else None,
            inputs=pulumi.runtime.rpc.deserialize_properties(request.object) if request.custom else {},
            outputs=dict(registration.state) if registration else {},
        ))
        return response


@dataclass
class OfflineRun:
    stack: str
    resources: list[RecordedResource]
    invokes: list[tuple[str, dict]]

    def by_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def find(self, type_token: str, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.type == type_token and r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_token} named {name}")
        return matches[0]


def run_program(stack: str, pulumi_config: dict[str, str], region: str) -> OfflineRun:
    """Run `__main__.py` for `stack` with the given config; return every registration."""
    # A root stack left over from an earlier run would carry its transformations into this one.
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(pulumi_config)
    mocks = PlatformMocks(region)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")

    program()
    return OfflineRun(stack, _dependency_order(monitor.recorded), mocks.invokes)


def _dependency_order(recorded: list[RecordedResource]) -> list[RecordedResource]:
    """Registrations finish in no fixed order; a stack export lists each resource after its
    parent, provider and dependencies. Ties are broken by URN so runs compare equal."""
    import heapq

    by_urn = {r.urn: r for r in recorded}

    def prerequisites(resource: RecordedResource) -> set[str]:
        provider_urn = resource.provider.rsplit("::", 1)[0] if resource.provider else ""
        return {urn for urn in (resource.parent, provider_urn, *resource.dependencies) if urn in by_urn and urn != resource.urn}

    waiting = {r.urn: prerequisites(r) for r in recorded}
    dependents: dict[str, list[str]] = {}
    for urn, needs in waiting.items():
        for need in needs:
            dependents.setdefault(need, []).append(urn)
    ready = [urn for urn, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    ordered = []
    while ready:
        urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for dependent in dependents.get(urn, []):
            waiting[dependent].discard(urn)
            if not waiting[dependent]:
                heapq.heappush(ready, dependent)
    if len(ordered) != len(recorded):
        raise RuntimeError("resource registrations form a cycle")
    return ordered


# ---------------------------------------------------------------------------------------------
# Stack-export document
# ---------------------------------------------------------------------------------------------


def provider_default_tags(provider_resource: dict) -> dict[str, str]:
    """The AWS provider's default tags; the engine passes them JSON-encoded."""
    return decode_default_tags((provider_resource.get("inputs") or {}).get("defaultTags"))


def export_document(run: OfflineRun, pulumi_version: str | None = None) -> dict[str, Any]:
    """A `pulumi stack export` document (deployment version 3) of an offline run."""
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    stack_urn = run.resources[0].urn
    resources = []
    default_tags_by_provider: dict[str, dict] = {}
    for recorded in run.resources:
        resource: dict[str, Any] = {"urn": recorded.urn, "custom": recorded.custom, "type": recorded.type}
        if recorded.custom:
            resource["id"] = recorded.id
            resource["inputs"] = recorded.inputs
            resource["outputs"] = dict(recorded.outputs)
        if recorded.type != "pulumi:pulumi:Stack":
            resource["parent"] = recorded.parent or stack_urn
        if recorded.provider:
            resource["provider"] = recorded.provider
        if recorded.protect:
            resource["protect"] = True
        if recorded.retain_on_delete:
            resource["retainOnDelete"] = True
        if recorded.dependencies:
            resource["dependencies"] = recorded.dependencies
        resource["created"] = resource["modified"] = now
        if recorded.type.startswith("pulumi:providers:aws"):
            default_tags_by_provider[f"{recorded.urn}::{recorded.id}"] = provider_default_tags(resource)
        # The real provider reports the merged set of default and resource tags as `tagsAll`.
        if recorded.custom and recorded.provider in default_tags_by_provider and is_taggable(recorded.type):
            resource["outputs"]["tagsAll"] = {**default_tags_by_provider[recorded.provider], **(recorded.inputs.get("tags") or {})}
        resources.append(resource)
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": now, "magic": "", "version": pulumi_version or f"v{_sdk_version()}"},
            "secrets_providers": {"type": "passphrase", "state": {}},
            "resources": resources,
        },
    }


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("pulumi")
