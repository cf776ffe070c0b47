"""What the platform declares on the cluster: Pod Security on every namespace, hardened pods, HTTPS
load balancers open only to named networks, idle notebooks culled, charts pinned."""

from __future__ import annotations

import json
import re
from typing import Iterator, Optional

from components.hardening import POD_SECURITY_LABEL_PREFIX
from policy.model import Resource, Rule, annotations_of, as_list, labels_of, of_types, truthy

NAMESPACE = "kubernetes:core/v1:Namespace"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
ALB = "alb.ingress.kubernetes.io/"
ENFORCED_LEVELS = ("baseline", "restricted")
TLS_POLICIES = re.compile(r"ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)")
MAX_CULL_TIMEOUT_SECONDS = 86_400
# Pod templates by kind: the path from the object's spec to its pod spec.
POD_TEMPLATE_PATHS = {
    "Deployment": ("template",), "DaemonSet": ("template",), "StatefulSet": ("template",), "ReplicaSet": ("template",),
    "Job": ("template",), "CronJob": ("jobTemplate", "spec", "template"),
}


def kind_of(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def is_workload(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:") and (kind_of(resource_type) in POD_TEMPLATE_PATHS or kind_of(resource_type) == "Pod")


def pod_spec(resource: Resource) -> dict:
    spec = resource.props.get("spec") or {}
    for step in POD_TEMPLATE_PATHS.get(kind_of(resource.type), ()):
        spec = (spec or {}).get(step) or {}
    return (spec.get("spec") or {}) if kind_of(resource.type) != "Pod" else spec


def containers(spec: dict) -> Iterator[dict]:
    for key in ("initContainers", "containers"):
        yield from (container for container in spec.get(key) or [] if isinstance(container, dict))


def _namespace_pod_security(resource: Resource) -> list[str]:
    level = labels_of(resource.props).get(f"{POD_SECURITY_LABEL_PREFIX}enforce")
    return [] if level in ENFORCED_LEVELS else [f"{POD_SECURITY_LABEL_PREFIX}enforce must be baseline or restricted, got {level!r}"]


def _host_namespaces(resource: Resource) -> list[str]:
    spec = pod_spec(resource)
    problems = [f"{key} shares the node's namespace with the pod" for key in ("hostNetwork", "hostPID", "hostIPC") if truthy(spec.get(key))]
    problems += [f"volume {volume.get('name')!r} mounts a host path" for volume in spec.get("volumes") or [] if volume.get("hostPath")]
    return problems


def _restricted(resource: Resource) -> list[str]:
    spec = pod_spec(resource)
    pod = spec.get("securityContext") or {}
    problems = []
    for container in containers(spec):
        context = container.get("securityContext") or {}
        name = container.get("name", "?")
        if not (truthy(context.get("runAsNonRoot")) or truthy(pod.get("runAsNonRoot"))):
            problems.append(f"container {name} may run as root (runAsNonRoot)")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name} allows privilege escalation")
        if truthy(context.get("privileged")):
            problems.append(f"container {name} is privileged")
        if not truthy(context.get("readOnlyRootFilesystem")):
            problems.append(f"container {name} has a writable root filesystem")
        if "ALL" not in as_list((context.get("capabilities") or {}).get("drop")):
            problems.append(f"container {name} keeps Linux capabilities (drop ALL)")
        seccomp = (context.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name} runs without a seccomp profile")
    return problems


def _no_token(resource: Resource) -> list[str]:
    if pod_spec(resource).get("automountServiceAccountToken") is False:
        return []
    return ["the pod mounts a Kubernetes API token it does not need (automountServiceAccountToken must be false)"]


def _resources(resource: Resource) -> list[str]:
    problems = []
    for container in containers(pod_spec(resource)):
        bounds = container.get("resources") or {}
        requests, limits = bounds.get("requests") or {}, bounds.get("limits") or {}
        if not (requests.get("cpu") and requests.get("memory") and limits.get("memory")):
            problems.append(f"container {container.get('name', '?')} needs CPU and memory requests and a memory limit")
    return problems


def _images(resource: Resource) -> list[str]:
    problems = []
    for container in containers(pod_spec(resource)):
        image = container.get("image")
        if not isinstance(image, str):
            continue  # not known until the registry exists
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in last or last.endswith(":latest")):
            problems.append(f"container {container.get('name', '?')} image {image!r} is not pinned by a version tag or digest")
    return problems


def alb_ingress_annotations(resource: Resource) -> Optional[dict]:
    """The annotations of an ALB Ingress: one the platform declares, or the one a chart renders from
    its values (`ingress.enabled`, as JupyterHub's); None for anything else."""
    if resource.type == HELM_RELEASE:
        values = resource.props.get("values")
        ingress = values.get("ingress") if isinstance(values, dict) else None
        if isinstance(ingress, dict) and truthy(ingress.get("enabled")) and ingress.get("ingressClassName") == "alb":
            return ingress.get("annotations") or {}
        return None
    spec = resource.props.get("spec") or {}
    annotations = annotations_of(resource.props)
    if spec.get("ingressClassName") == "alb" or annotations.get("kubernetes.io/ingress.class") == "alb":
        return annotations
    return None


def applies_to_ingresses(*aws_types: str):
    return lambda resource_type: resource_type in (INGRESS, HELM_RELEASE, *aws_types)


def _listen_ports(annotations: dict) -> list[dict]:
    try:
        return [entry for entry in json.loads(annotations.get(f"{ALB}listen-ports") or '[{"HTTP": 80}]') if isinstance(entry, dict)]
    except ValueError:
        return []


def load_balancer_attributes(annotations: dict) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in str(annotations.get(f"{ALB}load-balancer-attributes") or "").split(",") if "=" in item]
    return {key.strip(): value.strip() for key, value in pairs}


def _https_only(resource: Resource) -> list[str]:
    if resource.type in LISTENERS:
        if resource.props.get("protocol") != "HTTP":
            return []
        defaults = as_list(resource.props.get("defaultActions"))
        redirects = len(defaults) == 1 and defaults[0].get("type") == "redirect" and (defaults[0].get("redirect") or {}).get("protocol") == "HTTPS"
        return [] if redirects else ["an HTTP listener may only redirect to HTTPS"]
    annotations = alb_ingress_annotations(resource)
    if annotations is None:
        return []
    protocols = {protocol for entry in _listen_ports(annotations) for protocol in entry}
    problems = []
    if "HTTPS" not in protocols or not annotations.get(f"{ALB}certificate-arn"):
        problems.append("the load balancer must listen on HTTPS with a certificate (listen-ports, certificate-arn)")
    if "HTTP" in protocols and not annotations.get(f"{ALB}ssl-redirect"):
        problems.append("plain HTTP may only redirect to HTTPS (ssl-redirect)")
    if not TLS_POLICIES.match(str(annotations.get(f"{ALB}ssl-policy") or "")):
        problems.append("ssl-policy must be a TLS 1.2+ policy")
    return problems


def _allow_list(resource: Resource) -> list[str]:
    annotations = alb_ingress_annotations(resource)
    if annotations is None:
        return []
    cidrs = [cidr.strip() for cidr in str(annotations.get(f"{ALB}inbound-cidrs") or "").split(",") if cidr.strip()]
    if not cidrs:
        return ["inbound-cidrs is not set: the load balancer's security group admits 0.0.0.0/0"]
    return [f"inbound-cidrs admits the whole internet ({cidr})" for cidr in cidrs if cidr.endswith("/0")]


def _access_logs(resource: Resource) -> list[str]:
    if resource.type in LOAD_BALANCERS:
        logs = resource.props.get("accessLogs") or {}
        return [] if truthy(logs.get("enabled")) and logs.get("bucket") else ["the load balancer must write access logs"]
    annotations = alb_ingress_annotations(resource)
    if annotations is None:
        return []
    attributes = load_balancer_attributes(annotations)
    ok = attributes.get("access_logs.s3.enabled") == "true" and attributes.get("access_logs.s3.bucket")
    return [] if ok else ["load-balancer-attributes must enable access_logs.s3 with a bucket"]


def _deletion_protection(resource: Resource) -> list[str]:
    if resource.environment != "prod":
        return []
    if resource.type in LOAD_BALANCERS:
        return [] if truthy(resource.props.get("enableDeletionProtection")) else ["prod load balancers must have deletion protection"]
    annotations = alb_ingress_annotations(resource)
    if annotations is None:
        return []
    attributes = load_balancer_attributes(annotations)
    return [] if attributes.get("deletion_protection.enabled") == "true" else ["prod load balancers must set deletion_protection.enabled=true"]


def _culling(resource: Resource) -> list[str]:
    if resource.props.get("chart") != "jupyterhub" or not isinstance(resource.props.get("values"), dict):
        return []
    cull = resource.props["values"].get("cull") or {}
    if not truthy(cull.get("enabled")):
        return ["JupyterHub must cull idle servers (values.cull.enabled)"]
    timeout = cull.get("timeout")
    if not timeout or timeout > MAX_CULL_TIMEOUT_SECONDS:
        return [f"values.cull.timeout must stop idle servers within {MAX_CULL_TIMEOUT_SECONDS // 3600} hours, got {timeout!r}"]
    return []


def _pinned_chart(resource: Resource) -> list[str]:
    version = str(resource.props.get("version") or "")
    if not version or any(marker in version for marker in "^~*x><| "):
        return [f"the chart version must be exact, got {version!r}"]
    return []


RULES = (
    Rule("namespaces-pod-security", "Every namespace the platform declares enforces the baseline or restricted Pod Security standard.",
         of_types(NAMESPACE), _namespace_pod_security),
    Rule("pods-no-host-namespaces", "No pod shares the node's network, PID or IPC namespace or mounts a host path.", is_workload, _host_namespaces),
    Rule("pods-restricted-security-context", "Containers run as non-root, without privilege escalation or capabilities, read-only, under seccomp.",
         is_workload, _restricted),
    Rule("pods-no-service-account-token", "Pods the platform declares mount no Kubernetes API token.", is_workload, _no_token),
    Rule("containers-resources-bounded", "Containers request CPU and memory and limit memory.", is_workload, _resources),
    Rule("images-pinned", "Container images are pinned by a version tag or a digest, never latest.", is_workload, _images),
    Rule("ingress-https-only", "Load balancers listen on HTTPS with a certificate and a TLS 1.2+ policy; HTTP only redirects.",
         applies_to_ingresses(*LISTENERS), _https_only, source="alb-http-to-https-redirection"),
    Rule("ingress-allow-list", "Load balancers admit only named networks, never 0.0.0.0/0.", applies_to_ingresses(), _allow_list),
    Rule("ingress-access-logs", "Load balancers write access logs to S3.", applies_to_ingresses(*LOAD_BALANCERS), _access_logs,
         source="elb-logging-enabled"),
    Rule("ingress-deletion-protection-in-prod", "Prod load balancers have deletion protection.", applies_to_ingresses(*LOAD_BALANCERS),
         _deletion_protection, source="elb-deletion-protection-enabled"),
    Rule("notebook-culling-on", f"JupyterHub culls idle servers within {MAX_CULL_TIMEOUT_SECONDS // 3600} hours.", of_types(HELM_RELEASE), _culling),
    Rule("helm-releases-pinned", "Helm releases pin an exact chart version.", of_types(HELM_RELEASE), _pinned_chart),
)
