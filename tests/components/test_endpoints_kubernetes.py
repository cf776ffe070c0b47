"""Kubernetes endpoints and batch scoring jobs per stack: hardened pods, autoscaling bounds from
config, weighted canary routing, pod identity scoped to the model and scoring prefixes, and every
object passing `kubernetes-validate --strict` and checkov's kubernetes checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi.runtime import rpc

from components.endpoint_capture import HEALTH_PORT as SHIPPER_HEALTH_PORT
from components.tagging import LABEL_FOR_TAG
from components.nodepools import GPU_RESOURCE
from components.workloads import POD_USER_ID, TRACK_LABEL
from mlp import PROJECT_ROOT
from tests.conftest import STACKS, planned

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"


def _integral(value):
    """Mocks hand numbers over as floats; Kubernetes schemas want integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def endpoint_objects(stack: str) -> list[dict]:
    """The Kubernetes objects the endpoints component declares, as manifests."""
    return [
        _integral(r.inputs)
        for r in planned(stack).run.resources
        if r.custom and r.type.startswith("kubernetes:") and "mlplatform:endpoints:" in r.urn
    ]


def _objects(stack: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in endpoint_objects(stack) if o["kind"] == kind}


def _kubernetes_endpoints(stack):
    return [e for e in planned(stack).config.endpoints if e.backend == "kubernetes"]


def _write_manifests(stack: str, directory: Path) -> list[Path]:
    paths = []
    for i, manifest in enumerate(endpoint_objects(stack)):
        path = directory / f"{i:03d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        paths.append(path)
    return paths


def test_every_stack_serves_from_the_cluster_and_schedules_batch_scoring(stack):
    config = planned(stack).config
    deployments = _objects(stack, "Deployment")
    for endpoint in _kubernetes_endpoints(stack):
        assert endpoint.name in deployments
        assert deployments[endpoint.name]["metadata"]["namespace"] == endpoint.team
    assert _kubernetes_endpoints(stack)
    assert set(_objects(stack, "CronJob")) == {f"batch-{job.name}" for job in config.batch_jobs}


def _pod_specs(stack):
    for deployment in _objects(stack, "Deployment").values():
        yield deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]
    for cron_job in _objects(stack, "CronJob").values():
        yield cron_job["metadata"]["name"], cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_every_pod_is_hardened(stack):
    specs = list(_pod_specs(stack))
    assert specs
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == POD_USER_ID
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["runAsNonRoot"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert container["resources"]["requests"] == container["resources"]["limits"]
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
            image = container["image"]
            assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), image


def test_serving_pods_have_probes_and_run_the_configured_model(stack):
    deployments = _objects(stack, "Deployment")
    for endpoint in _kubernetes_endpoints(stack):
        serving = endpoint.kubernetes
        # The model server; an endpoint that captures also runs the capture shipper (test_endpoint_capture.py).
        container = next(c for c in deployments[endpoint.name]["spec"]["template"]["spec"]["containers"] if c["name"] == "server")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"] == {"path": serving.health_path, "port": "http"}
        assert container["ports"] == [{"name": "http", "containerPort": serving.port, "protocol": "TCP"}]
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env["MODEL_URI"] == endpoint.model.uri
        assert container["resources"]["limits"]["cpu"] == serving.cpu
        assert container["resources"]["limits"]["memory"] == serving.memory


def test_autoscaling_bounds_equal_config(stack):
    autoscalers = _objects(stack, "HorizontalPodAutoscaler")
    deployments = _objects(stack, "Deployment")
    for endpoint in _kubernetes_endpoints(stack):
        spec = autoscalers[endpoint.name]["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (endpoint.min_capacity, endpoint.max_capacity)
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": endpoint.name}
        (metric,) = spec["metrics"]
        assert metric["resource"]["target"]["averageUtilization"] == endpoint.kubernetes.target_cpu_utilization_percent
        # The autoscaler owns the replica count; a fixed one would fight it on every update.
        assert "replicas" not in deployments[endpoint.name]["spec"]


def test_disruption_budget_network_policy_and_internal_alb(stack):
    budgets = _objects(stack, "PodDisruptionBudget")
    policies = _objects(stack, "NetworkPolicy")
    ingresses = _objects(stack, "Ingress")
    for endpoint in _kubernetes_endpoints(stack):
        assert budgets[endpoint.name]["spec"]["maxUnavailable"] == 1
        policy = policies[f"endpoint-{endpoint.name}"]["spec"]
        assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": endpoint.name}}
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        (allowed,) = policy["ingress"]
        assert allowed["from"] == [{"ipBlock": {"cidr": str(planned(stack).config.network.vpc_cidr)}}]
        # The capture shipper's health port is open to the kubelet's probes where the endpoint captures.
        shipper = [{"protocol": "TCP", "port": SHIPPER_HEALTH_PORT}] if endpoint.capture is not None else []
        assert allowed["ports"] == [{"protocol": "TCP", "port": endpoint.kubernetes.port}] + shipper
        ingress = ingresses[endpoint.name]
        assert ingress["spec"]["ingressClassName"] == "alb"
        annotations = ingress["metadata"]["annotations"]
        public = endpoint.kubernetes.ingress
        assert annotations["alb.ingress.kubernetes.io/scheme"] == public.scheme == "internal"
        # The controller-made load balancer carries the six cost tags too.
        alb_tags = dict(pair.split("=", 1) for pair in annotations["alb.ingress.kubernetes.io/tags"].split(","))
        assert set(alb_tags) == {"CostCenter", "Environment", "Project", "Team", "Component", "ManagedBy"}
        # A shared ALB is the network's and the platform team's (tests/components/test_load_balancers.py).
        shared = planned(stack).config.cluster.shared_load_balancer
        owner = (planned(stack).config.platform_team, "network") if shared else (endpoint.team, "endpoints")
        assert (alb_tags["Team"], alb_tags["Component"]) == owner


def test_serving_albs_are_https_only_from_the_allowed_networks_and_logged(stack):
    """Plain HTTP open to 0.0.0.0/0 let anyone on the network call a model and read its answers in transit."""
    plan = planned(stack)
    ingresses = _objects(stack, "Ingress")
    for endpoint in _kubernetes_endpoints(stack):
        public = endpoint.kubernetes.ingress
        annotations = ingresses[endpoint.name]["metadata"]["annotations"]
        assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]
        assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == public.certificate_arn
        assert annotations["alb.ingress.kubernetes.io/ssl-policy"].startswith("ELBSecurityPolicy-TLS13-")
        cidrs = annotations["alb.ingress.kubernetes.io/inbound-cidrs"].split(",")
        assert cidrs == list(public.allowed_cidrs) and not any(cidr.endswith("/0") for cidr in cidrs)
        attributes = dict(item.split("=", 1) for item in annotations["alb.ingress.kubernetes.io/load-balancer-attributes"].split(","))
        assert attributes["access_logs.s3.enabled"] == "true"
        assert attributes["access_logs.s3.bucket"] == plan.config.datalake.access_log_bucket_name
        shared = plan.config.cluster.shared_load_balancer
        assert attributes["access_logs.s3.prefix"] == (f"alb/{plan.config.name_prefix}" if shared else f"alb/endpoints/{endpoint.name}")
        assert attributes["deletion_protection.enabled"] == str(public.deletion_protection).lower()
        assert "alb.ingress.kubernetes.io/auth-type" not in annotations  # no sign-in configured in the stack files


def test_serving_albs_can_require_sign_in_through_an_oidc_provider(plan_edited):
    auth = {"issuer": "https://login.acme.example", "authorizationEndpoint": "https://login.acme.example/oauth2/v1/authorize",
            "tokenEndpoint": "https://login.acme.example/oauth2/v1/token", "userInfoEndpoint": "https://login.acme.example/oauth2/v1/userinfo",
            "clientId": "serving-dev", "clientSecretName": "mlplatform/dev/serving/oidc-client-secret"}

    def edit(config):
        next(e for e in config["mlplatform:endpoints"] if e.get("backend") == "kubernetes")["kubernetes"]["ingress"]["auth"] = auth

    plan = plan_edited("dev", edit)
    (ingress,) = [r for r in plan.run.by_type("kubernetes:networking.k8s.io/v1:Ingress") if "mlplatform:endpoints:" in r.urn]
    annotations = ingress.inputs["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/auth-type"] == "oidc"
    assert annotations["alb.ingress.kubernetes.io/auth-on-unauthenticated-request"] == "deny"
    idp = json.loads(annotations["alb.ingress.kubernetes.io/auth-idp-oidc"])
    assert idp["issuer"] == auth["issuer"] and idp["secretName"] == "defect-detection-oidc-client"
    (secret,) = [r for r in plan.run.by_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == idp["secretName"]]
    assert secret.inputs["metadata"]["namespace"] == ingress.inputs["metadata"]["namespace"]
    data = secret.inputs["stringData"]
    data = data["value"] if rpc._special_sig_key in data else data  # the engine's secret envelope
    assert set(data) == {"clientID", "clientSecret"} and data["clientID"] == "serving-dev"
    assert secret.urn in ingress.dependencies
    assert plan.policy_violations == []


@pytest.mark.parametrize("stack", [s for s in STACKS if any(e.kubernetes and e.kubernetes.canary for e in planned(s).config.endpoints)])
def test_canary_is_a_second_deployment_with_weighted_routing(stack):
    deployments = _objects(stack, "Deployment")
    services = _objects(stack, "Service")
    ingresses = _objects(stack, "Ingress")
    for endpoint in [e for e in _kubernetes_endpoints(stack) if e.kubernetes.canary]:
        canary = endpoint.kubernetes.canary
        stable, second = deployments[endpoint.name], deployments[f"{endpoint.name}-canary"]
        assert stable["spec"]["selector"]["matchLabels"][TRACK_LABEL] == "stable"
        assert second["spec"]["selector"]["matchLabels"][TRACK_LABEL] == "canary"
        assert second["spec"]["replicas"] == canary.replicas
        (container,) = second["spec"]["template"]["spec"]["containers"]
        assert container["image"].endswith(canary.image.reference)
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env["MODEL_URI"] == (canary.model or endpoint.model).uri
        assert services[f"{endpoint.name}-canary"]["spec"]["selector"][TRACK_LABEL] == "canary"
        ingress = ingresses[endpoint.name]
        (rule,) = ingress["spec"]["rules"]
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend["port"] == {"name": "use-annotation"}
        action = json.loads(ingress["metadata"]["annotations"][f"alb.ingress.kubernetes.io/actions.{backend['name']}"])
        weights = {group["serviceName"]: group["weight"] for group in action["forwardConfig"]["targetGroups"]}
        assert weights == {endpoint.name: 100 - canary.weight_percent, f"{endpoint.name}-canary": canary.weight_percent}


def test_gpu_work_requests_gpus_and_tolerates_the_gpu_taint(plan_edited):
    def edit(config):
        config["mlplatform:endpoints"][1]["kubernetes"]["gpus"] = 1
        config["mlplatform:batchJobs"][0]["gpus"] = 1

    plan = plan_edited("dev", edit)
    objects = [_integral(r.inputs) for r in plan.run.resources if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob") and "mlplatform:endpoints:" in r.urn]
    assert objects
    for manifest in objects:
        spec = manifest["spec"]["template"]["spec"] if manifest["kind"] == "Deployment" else manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        container = spec["containers"][0]  # the workload itself; a capturing endpoint adds its capture shipper after it
        assert container["resources"]["limits"][GPU_RESOURCE] == "1"
        assert any(t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NoSchedule" for t in spec["tolerations"])
        assert spec["nodeSelector"]


def test_pods_stay_off_the_untainted_system_nodes(stack):
    run = planned(stack).run
    (system_group,) = run.by_type("aws:eks/nodeGroup:NodeGroup")
    system_labels = system_group.inputs["labels"]
    assert system_labels
    for name, spec in _pod_specs(stack):
        (term,) = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        excluded = {(e["key"], value) for e in term["matchExpressions"] if e["operator"] == "NotIn" for value in e["values"]}
        assert set(system_labels.items()) <= excluded, name


def test_cpu_work_stays_off_gpu_nodes(stack):
    for name, spec in _pod_specs(stack):
        container = spec["containers"][0]  # the workload itself; a capturing endpoint adds its capture shipper after it
        assert GPU_RESOURCE not in container["resources"]["limits"], name
        assert "tolerations" not in spec, name


def _policy_statements(stack, role_name):
    run = planned(stack).run
    (role,) = [r for r in run.by_type("aws:iam/role:Role") if r.inputs.get("name") == role_name]
    (policy,) = [p for p in run.by_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    return role, json.loads(policy.inputs["policy"])["Statement"]


def test_pods_get_roles_scoped_to_their_model_and_scoring_prefixes(stack):
    plan = planned(stack)
    lake = plan.config.datalake
    associations = {(a.inputs["namespace"], a.inputs["serviceAccount"]): a for a in plan.run.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation") if "mlplatform:endpoints:" in a.urn}
    for endpoint in _kubernetes_endpoints(stack):
        role, statements = _policy_statements(stack, f"{plan.config.name_prefix}-ep-{endpoint.name}")
        assert associations[(endpoint.team, f"endpoint-{endpoint.name}")].inputs["roleArn"] == role.outputs["arn"]
        reads = {r for s in statements if s["Action"] == ["s3:GetObject"] for r in s["Resource"]}
        models = [endpoint.model] + ([endpoint.kubernetes.canary.model] if endpoint.kubernetes.canary and endpoint.kubernetes.canary.model else [])
        assert reads == {f"arn:aws:s3:::{m.bucket}/{m.key}" + ("*" if m.is_prefix else "") for m in models}
        # Writes only its captures, if it captures (test_endpoint_capture.py scopes them).
        model_statements = [s for s in statements if s["Sid"] != "WriteCaptures"]
        assert not any(a.startswith("s3:Put") or a.startswith("s3:Delete") for s in model_statements for a in s["Action"])
        assert len(model_statements) == len(statements) - (endpoint.capture is not None)
    curated = f"arn:aws:s3:::{lake.bucket_name('curated')}"
    for job in plan.config.batch_jobs:
        role, statements = _policy_statements(stack, f"{plan.config.name_prefix}-job-{job.name}")
        assert associations[(job.team, f"batch-{job.name}")].inputs["roleArn"] == role.outputs["arn"]
        writes = {r for s in statements if "s3:PutObject" in s["Action"] for r in s["Resource"]}
        assert writes == {f"{curated}/{job.output_prefix}*"}
        assert job.output_prefix.startswith(f"teams/{job.team}/")
        reads = {r for s in statements if s["Action"] == ["s3:GetObject"] for r in s["Resource"]}
        model = f"arn:aws:s3:::{job.model.bucket}/{job.model.key}" + ("*" if job.model.is_prefix else "")
        assert reads == {f"{curated}/{job.input_prefix}*", model}
        assert all(a != "s3:DeleteObject" for s in statements for a in s["Action"])


def test_cron_jobs_follow_config(stack):
    plan = planned(stack)
    cron_jobs = _objects(stack, "CronJob")
    curated = plan.config.datalake.bucket_name("curated")
    for job in plan.config.batch_jobs:
        spec = cron_jobs[f"batch-{job.name}"]["spec"]
        assert spec["schedule"] == job.schedule
        assert spec["concurrencyPolicy"] == "Forbid"
        job_spec = spec["jobTemplate"]["spec"]
        assert job_spec["activeDeadlineSeconds"] == job.active_deadline_seconds
        (container,) = job_spec["template"]["spec"]["containers"]
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env["INPUT_URI"] == f"s3://{curated}/{job.input_prefix}"
        assert env["OUTPUT_URI"] == f"s3://{curated}/{job.output_prefix}"
        assert env["MODEL_URI"] == job.model.uri


def test_every_object_carries_the_cost_labels(stack):
    objects = endpoint_objects(stack)
    assert objects
    for manifest in objects:
        labels = manifest["metadata"]["labels"]
        assert set(LABEL_FOR_TAG.values()) <= set(labels)
        assert labels["mlplatform.io/component"] == "endpoints"


def test_objects_pass_strict_kubernetes_validation(stack, tmp_path):
    paths = _write_manifests(stack, tmp_path)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "--quiet", *map(str, paths)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_objects_pass_checkov_kubernetes_checks(stack, tmp_path):
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make checkov` (the test target builds it)")
    _write_manifests(stack, tmp_path)
    result = subprocess.run(
        [str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "--compact", "--quiet", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=600,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [f"{c['check_id']} {c['check_name']} ({c['resource']})" for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == []
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0
    # checkov also counts the pod templates inside workloads, so at least every object was scanned.
    assert summary["resource_count"] >= len(endpoint_objects(stack))
    assert summary["passed"] > 0
    # Skips are rare and each carries its reason in the object's annotation.
    assert summary["skipped"] <= len(_objects(stack, "Deployment")) + len(_objects(stack, "CronJob"))


def test_objects_go_to_the_platform_cluster_after_their_namespace(stack):
    run = planned(stack).run
    (provider,) = [r for r in run.resources if r.type == "pulumi:providers:kubernetes" and "$mlplatform:compute:Cluster$" in r.urn]
    namespaces = {r.urn for r in run.by_type("kubernetes:core/v1:Namespace")}
    mine = [r for r in run.resources if r.custom and r.type.startswith("kubernetes:") and "mlplatform:endpoints:" in r.urn]
    assert mine
    for resource in mine:
        assert resource.provider.startswith(provider.urn + "::"), resource.urn
    # Service accounts wait for the team namespace; workloads wait for their service account.
    for account in [r for r in mine if r.type == "kubernetes:core/v1:ServiceAccount"]:
        assert namespaces & set(account.dependencies), account.urn


def test_services_and_ingresses_wait_for_the_load_balancer_controller(stack):
    """Its Service and Ingress webhooks fail closed: created earlier, these objects are refused."""
    run = planned(stack).run
    (controller,) = [r for r in run.by_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == "aws-load-balancer-controller"]
    mine = [r for r in run.resources if r.type in ("kubernetes:core/v1:Service", "kubernetes:networking.k8s.io/v1:Ingress") and "mlplatform:endpoints:" in r.urn]
    assert mine
    for resource in mine:
        assert controller.urn in resource.dependencies, resource.urn


def test_scheduled_runs_are_queued_by_kueue_only_where_the_stack_has_queues(plan_edited):
    queued = _objects("dev", "CronJob")
    assert queued and all(c["spec"]["jobTemplate"]["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-queue" for c in queued.values())
    without_queues = plan_edited("dev", lambda config: config.pop("mlplatform:distributed"))
    cron_jobs = [_integral(r.inputs) for r in without_queues.resources if r.type == "kubernetes:batch/v1:CronJob"]
    assert cron_jobs and all("kueue.x-k8s.io/queue-name" not in c["spec"]["jobTemplate"]["metadata"]["labels"] for c in cron_jobs)
