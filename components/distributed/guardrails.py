"""Guardrails on distributed work, enforced by the API server itself: a built-in
ValidatingAdmissionPolicy (CEL, no webhook to run or keep available) bound to the team namespaces.

In a team namespace it refuses:

- any RayJob, RayCluster, Job or SparkApplication that does not name the team's LocalQueue
  (`kueue.x-k8s.io/queue-name: team-queue`): nothing bypasses the team's fair share and budget;
- a RayJob that does not delete its cluster when the job finishes (`shutdownAfterJobFinishes: true`)
  within `guardrails.maxTtlSecondsAfterFinished` (`ttlSecondsAfterFinished`; the CRD defaults it
  to 0, so the API server always holds one by the time the policy runs, and the bound is what counts);
- a RayCluster whose idle workers are not removed: it must autoscale with an idle timeout of at most
  `guardrails.maxIdleTimeoutSeconds` (`spec.autoscalerOptions.idleTimeoutSeconds`), every worker group
  must scale to zero, and it must be an elastic Kueue job (`kueue.x-k8s.io/elastic-job: "true"`), the
  only kind of queued RayCluster Kueue lets autoscale (its quota follows the workers);
- Ray and Spark pods that would not be billed to the team: every pod template must carry the
  team namespace's `mlplatform.io/team`, `cost-center` and `environment` labels and
  `mlplatform.io/component: distributed`;
- a Ray head that Karpenter may disrupt: head pods carry `karpenter.sh/do-not-disrupt: "true"`
  (a head's restart loses the whole cluster's state).

What the operators themselves create (KubeRay's clusters and submitter Jobs of a RayJob, Jobs the
CronJob controller starts for the platform's scheduled scoring) is left alone: their parents
were checked when they were created.
"""

from __future__ import annotations

from typing import Any, Sequence

from components.config import GuardrailsConfig
from components.distributed.operators import COMPONENT, ELASTIC_JOB_ANNOTATION
from components.distributed.queues import LOCAL_QUEUE, QUEUE_LABEL
from components.tagging import LABEL_FOR_TAG

POLICY_NAME = "mlplatform-distributed-guardrails"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
TEAM_LABEL = LABEL_FOR_TAG["Team"]
# Labels a team's pods take from their namespace, which carries the team's cost facts.
NAMESPACE_COST_LABELS = (LABEL_FOR_TAG["Team"], LABEL_FOR_TAG["CostCenter"], LABEL_FOR_TAG["Environment"])
COMPONENT_LABEL = LABEL_FOR_TAG["Component"]


def _is(kind: str, condition: str) -> str:
    return f"object.kind != '{kind}' || ({condition})"


def _has_value(mapping: str, key: str, value: str) -> str:
    """`mapping` (a CEL path to a string map that may be absent) holds `key` with `value`."""
    parent, _, field = mapping.rpartition(".")
    return f"has({parent}.{field}) && '{key}' in {mapping} && {mapping}['{key}'] == '{value}'"


def variables() -> list[dict[str, str]]:
    cost_labels = ", ".join(f"'{label}': namespaceObject.metadata.labels['{label}']" for label in NAMESPACE_COST_LABELS)
    cluster = "variables.clusterSpec"
    return [
        {"name": "costLabels", "expression": f"{{{cost_labels}, '{COMPONENT_LABEL}': '{COMPONENT}'}}"},
        # The Ray cluster a RayCluster is, or a RayJob brings; empty for other kinds.
        {"name": "clusterSpec", "expression": "object.kind == 'RayCluster' ? object.spec : "
                                              "(object.kind == 'RayJob' && has(object.spec.rayClusterSpec) ? object.spec.rayClusterSpec : {})"},
        {"name": "rayTemplates", "expression": f"has({cluster}.headGroupSpec) ? [{cluster}.headGroupSpec.template] + "
                                               f"(has({cluster}.workerGroupSpecs) ? {cluster}.workerGroupSpecs.map(g, g.template) : []) : []"},
        {"name": "sparkPods", "expression": "object.kind == 'SparkApplication' ? "
                                            "[has(object.spec.driver) ? object.spec.driver : {}, has(object.spec.executor) ? object.spec.executor : {}] : []"},
    ]


def _billed(labels: str) -> str:
    return f"variables.costLabels.all(k, has({labels}) && k in {labels} && {labels}[k] == variables.costLabels[k])"


def validations(guardrails: GuardrailsConfig) -> list[dict[str, str]]:
    head_annotations = "variables.clusterSpec.headGroupSpec.template.metadata.annotations"
    cost_labels = ", ".join([*NAMESPACE_COST_LABELS, f"{COMPONENT_LABEL}={COMPONENT}"])
    rules = [
        (_has_value("object.metadata.labels", QUEUE_LABEL, LOCAL_QUEUE),
         f"work in a team namespace is queued by Kueue: set the label {QUEUE_LABEL}: {LOCAL_QUEUE}"),
        (_is("RayJob", "has(object.spec.shutdownAfterJobFinishes) && object.spec.shutdownAfterJobFinishes"),
         "a RayJob must delete its Ray cluster when the job finishes: set spec.shutdownAfterJobFinishes: true"),
        (_is("RayJob", f"has(object.spec.ttlSecondsAfterFinished) && object.spec.ttlSecondsAfterFinished <= {guardrails.max_ttl_seconds_after_finished}"),
         f"a RayJob's finished cluster may linger at most {guardrails.max_ttl_seconds_after_finished}s: set spec.ttlSecondsAfterFinished "
         f"<= {guardrails.max_ttl_seconds_after_finished}"),
        (_is("RayCluster", "has(object.spec.enableInTreeAutoscaling) && object.spec.enableInTreeAutoscaling && has(object.spec.autoscalerOptions) "
                           f"&& has(object.spec.autoscalerOptions.idleTimeoutSeconds) "
                           f"&& object.spec.autoscalerOptions.idleTimeoutSeconds <= {guardrails.max_idle_timeout_seconds}"),
         f"a RayCluster must remove idle workers: set spec.enableInTreeAutoscaling: true and "
         f"spec.autoscalerOptions.idleTimeoutSeconds <= {guardrails.max_idle_timeout_seconds}"),
        (_is("RayCluster", "!has(object.spec.workerGroupSpecs) || object.spec.workerGroupSpecs.all(g, g.minReplicas == 0)"),
         "a RayCluster's worker groups must scale to zero when idle: set minReplicas: 0"),
        (_is("RayCluster", _has_value("object.metadata.annotations", ELASTIC_JOB_ANNOTATION, "true")),
         f"an autoscaling RayCluster is queued as an elastic job: set the annotation {ELASTIC_JOB_ANNOTATION}: \"true\""),
        ("variables.rayTemplates.all(t, has(t.metadata) && " + _billed("t.metadata.labels") + ")",
         f"Ray head and worker pod templates must carry the team's cost labels ({cost_labels})"),
        ("variables.sparkPods.all(p, " + _billed("p.labels") + ")",
         f"Spark driver and executor labels must carry the team's cost labels ({cost_labels})"),
        ("!has(variables.clusterSpec.headGroupSpec) || (has(variables.clusterSpec.headGroupSpec.template.metadata) && "
         + _has_value(head_annotations, DO_NOT_DISRUPT, "true") + ")",
         f"a Ray head must not be disrupted by Karpenter: annotate its pod template {DO_NOT_DISRUPT}: \"true\""),
    ]
    return [{"expression": expression, "message": message, "reason": "Invalid"} for expression, message in rules]


def resource_rules(spark: bool) -> list[dict[str, Any]]:
    operations = ["CREATE", "UPDATE"]
    rules = [
        {"apiGroups": ["ray.io"], "apiVersions": ["v1"], "operations": operations, "resources": ["rayjobs", "rayclusters"]},
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": operations, "resources": ["jobs"]},
    ]
    if spark:
        rules.append({"apiGroups": ["sparkoperator.k8s.io"], "apiVersions": ["v1beta2"], "operations": operations, "resources": ["sparkapplications"]})
    return rules


def admission_policy_spec(guardrails: GuardrailsConfig, spark: bool, operator_users: Sequence[str]) -> dict[str, Any]:
    exempt = ", ".join(f"'{user}'" for user in sorted(set(operator_users)))
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {"matchPolicy": "Equivalent", "resourceRules": resource_rules(spark)},
        "matchConditions": [{"name": "not-created-by-an-operator", "expression": f"!(request.userInfo.username in [{exempt}])"}],
        "variables": variables(),
        "validations": validations(guardrails),
    }


def binding_spec(teams: Sequence[str]) -> dict[str, Any]:
    return {
        "policyName": POLICY_NAME,
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": {"matchExpressions": [{"key": TEAM_LABEL, "operator": "In", "values": list(teams)}]}},
    }
