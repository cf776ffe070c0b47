"""Hardening the platform passes to the third-party controllers it installs with Helm.

The charts (JupyterHub, the AWS Load Balancer Controller, Karpenter, the NVIDIA device plugin) leave
resources, pull policy and parts of the security context to their users. These helpers build the
Kubernetes fields each release's values hand on verbatim, so every release is hardened the same
way: requests and limits on every container, images pulled on every start (as the platform's
own model servers do), no privilege escalation, no capabilities, a read-only root filesystem and
the runtime's default seccomp profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

# Pulling on every start checks the node's cached copy against the registry, so a tag that moved
# never runs from a stale cache and a pull secret is checked every time.
PULL_ALWAYS = "Always"
RUNTIME_DEFAULT_SECCOMP = {"type": "RuntimeDefault"}


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one controller container."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def values(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


def pod_security_context(*, fs_group: Optional[int] = None) -> dict[str, Any]:
    """Non-root pods under the runtime's default seccomp profile; `fs_group` owns their volumes."""
    context: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP)}
    if fs_group is not None:
        context["fsGroup"] = fs_group
    return context


def container_security_context(*, user: Optional[int] = None, group: Optional[int] = None) -> dict[str, Any]:
    """No privilege escalation, no capabilities, a read-only root filesystem; with `user`, run as it.

    A container left without `user` keeps its image's user (the device plugin must stay root)."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    if user is not None:
        context.update({"runAsNonRoot": True, "runAsUser": user})
    if group is not None:
        context["runAsGroup"] = group
    return context


POD_SECURITY_LABEL_PREFIX = "pod-security.kubernetes.io/"


def pod_security_labels(enforce: str = "baseline") -> dict[str, str]:
    """Pod Security admission labels of a namespace where people's code runs: `enforce` refuses
    privileged pods, host namespaces and host paths; `restricted` is reported on every pod that
    falls short of it (a warning to whoever applies it, an audit log entry)."""
    return {
        f"{POD_SECURITY_LABEL_PREFIX}enforce": enforce,
        f"{POD_SECURITY_LABEL_PREFIX}warn": "restricted",
        f"{POD_SECURITY_LABEL_PREFIX}audit": "restricted",
    }
