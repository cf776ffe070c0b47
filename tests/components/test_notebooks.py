"""Notebooks per stack: the JupyterHub release's rendered values follow the stack config; the GPU
profile tolerates the GPU taint and requests GPUs; culling is explicit and never deletes storage;
sign-in is real OIDC outside dev with no secret in the values; user servers get their team's
data-lake role through Pod Identity; the ALB is TLS-only and cost-tagged; bad config is exit 2."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from components.nodepools import GPU_RESOURCE
from components.notebooks import (
    CHART_REPOSITORY,
    NAMESPACE,
    OAUTH_SECRET_KEY,
    OAUTH_SECRET_NAME,
    team_service_account,
)
from components.tagging import LABEL_FOR_TAG, REQUIRED_TAG_KEYS, is_owned_label
from mlp.cli import main
from mlp.errors import UserError
from mlp.plan import plan_stack
from tests.conftest import STACKS, planned, run_mlp, stack_yaml

RELEASE = "kubernetes:helm.sh/v3:Release"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
SECRET_VALUE_IN_OFFLINE_PLANS = "offline-plan-secret-value"
KUBERNETES_VERSION = "1.31.0"


def _release(run):
    (release,) = [r for r in run.by_type(RELEASE) if r.inputs.get("chart") == "jupyterhub"]
    return release


def _values(stack) -> dict:
    return _release(planned(stack).run).inputs["values"]


def _profiles(stack) -> dict[str, dict]:
    return {profile["slug"]: profile for profile in _values(stack)["singleuser"]["profileList"]}


def _repository_urls(stack) -> dict[str, str]:
    prefix = planned(stack).config.name_prefix + "/"
    return {r.inputs["name"].removeprefix(prefix): r.outputs["repositoryUrl"] for r in planned(stack).run.by_type("aws:ecr/repository:Repository")}


# ---- the release --------------------------------------------------------------------------------


def test_jupyterhub_comes_from_the_official_chart_at_the_pinned_version(stack):
    release = _release(planned(stack).run)
    assert release.inputs["chart"] == "jupyterhub"
    assert release.inputs["version"] == planned(stack).config.notebooks.chart_version
    assert release.inputs["repositoryOpts"] == {"repo": CHART_REPOSITORY}
    assert release.inputs["namespace"] == NAMESPACE


def test_the_release_waits_for_the_load_balancer_controller_and_the_storage_class(stack):
    run = planned(stack).run
    release = _release(run)
    (controller,) = [r for r in run.by_type(RELEASE) if r.inputs.get("name") == "aws-load-balancer-controller"]
    (storage_class,) = [r for r in run.by_type("kubernetes:storage.k8s.io/v1:StorageClass") if r.inputs["metadata"]["name"] == _values(stack)["singleuser"]["storage"]["dynamic"]["storageClass"]]
    # The controller's Service webhook fails closed, and the hub's and users' volumes need the class.
    assert {controller.urn, storage_class.urn} <= set(release.dependencies)


def test_the_notebooks_namespace_is_declared_and_labelled(stack):
    namespaces = [r for r in planned(stack).run.by_type("kubernetes:core/v1:Namespace") if r.inputs["metadata"]["name"] == NAMESPACE]
    (namespace,) = namespaces
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["mlplatform.io/component"] == "notebooks"
    # Users' code runs here: Pod Security enforces baseline and reports anything short of restricted.
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_user_servers_need_no_privileged_init_container_to_stay_off_instance_metadata(stack):
    """The chart's iptables init container is privileged (baseline refuses it); the network policy
    and the nodes' hop limit of 1 keep metadata out of reach without it."""
    singleuser = _values(stack)["singleuser"]
    assert singleuser["cloudMetadata"] == {"blockWithIptables": False}
    assert singleuser["networkPolicy"].get("egressAllowRules", {}).get("cloudMetadataServer", False) is False


def test_hub_proxy_and_user_scheduler_run_on_system_nodes(stack):
    values = _values(stack)
    system = values["hub"]["nodeSelector"]
    assert system, "the hub must be pinned to the system nodes"
    assert values["proxy"]["chp"]["nodeSelector"] == system
    assert values["scheduling"]["userScheduler"] == {**values["scheduling"]["userScheduler"], "enabled": True, "nodeSelector": system}
    # User servers never land on system nodes: every user pod requires a node outside the system group.
    (term,) = values["singleuser"]["extraNodeAffinity"]["required"]
    assert term == {"matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]} for key, value in sorted(system.items())]}
    for profile in _profiles(stack).values():
        selector = profile["kubespawner_override"].get("node_selector", {})
        assert not any(selector.get(key) == value for key, value in system.items())
        assert "node_affinity_required" not in profile["kubespawner_override"], "a profile override would replace the system exclusion"


def _core_pods(values) -> dict[str, dict]:
    """The values of the chart's own pods, by pod."""
    return {"hub": values["hub"], "proxy": values["proxy"]["chp"], "user-scheduler": values["scheduling"]["userScheduler"]}


def test_hub_proxy_and_user_scheduler_have_requests_limits_and_pull_always(stack):
    for pod, values in _core_pods(_values(stack)).items():
        resources = values["resources"]
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, pod
        assert all(resources["requests"].values()) and all(resources["limits"].values()), pod
        assert values["image"] == {"pullPolicy": "Always"}, pod


def test_hub_proxy_and_user_scheduler_run_restricted_with_a_read_only_root(stack):
    pods = _core_pods(_values(stack))
    for pod, values in pods.items():
        container = values["containerSecurityContext"]
        assert container["readOnlyRootFilesystem"] is True, pod
        assert container["allowPrivilegeEscalation"] is False, pod
        assert container["capabilities"] == {"drop": ["ALL"]}, pod
        assert container["runAsNonRoot"] is True and container["runAsUser"] >= 10000, pod
    # The chart has no pod security context value for the proxy and the user scheduler.
    for pod in ("proxy", "user-scheduler"):
        assert pods[pod]["extraPodSpec"]["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, pod
    assert pods["hub"]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_hub_database_stays_writable_under_a_high_uid_and_a_read_only_root(stack):
    hub = _values(stack)["hub"]
    # The volume belongs to the pod's fsGroup: the hub writes it through that group, whatever UID
    # created the database before.
    assert hub["db"]["type"] == "sqlite-pvc"
    assert hub["containerSecurityContext"]["runAsGroup"] == hub["podSecurityContext"]["fsGroup"]
    # Python's temporary files go to a scratch volume, not the read-only root.
    (scratch,) = [v for v in hub["extraVolumes"] if v["name"] == "tmp"]
    assert scratch == {"name": "tmp", "emptyDir": {}}
    assert {"name": "tmp", "mountPath": "/tmp"} in hub["extraVolumeMounts"]


def test_profiles_match_the_stack_config(stack):
    config = planned(stack).config.notebooks
    profiles = _profiles(stack)
    urls = _repository_urls(stack)
    assert list(profiles) == [p.name for p in config.profiles]
    for expected in config.profiles:
        override = profiles[expected.name]["kubespawner_override"]
        assert profiles[expected.name]["display_name"] == expected.display_name
        assert override["cpu_guarantee"] == override["cpu_limit"] == expected.cpu
        assert override["mem_guarantee"] == override["mem_limit"] == f"{expected.memory_gi}G"
        assert override["image"] == f"{urls[expected.repository]}:{expected.tag}"
        assert profiles[expected.name].get("default", False) == expected.default
    assert {p.kind for p in config.profiles} == {"cpu", "gpu", "rstudio"}


def test_images_come_from_the_platforms_ecr_repositories(stack):
    urls = _repository_urls(stack)
    for profile in _profiles(stack).values():
        assert profile["kubespawner_override"]["image"].startswith(f"{urls['notebook']}:") or profile["kubespawner_override"]["image"].startswith(f"{urls['rstudio']}:")
    default_image = _values(stack)["singleuser"]["image"]
    assert f"{default_image['name']}:{default_image['tag']}" == next(p for p in _profiles(stack).values() if p.get("default"))["kubespawner_override"]["image"]


def test_gpu_profile_tolerates_the_taint_requests_gpus_and_waits_for_scale_from_zero(stack):
    config = planned(stack).config.notebooks
    values = _values(stack)
    gpu_profiles = [p for p in config.profiles if p.kind == "gpu"]
    assert gpu_profiles
    for expected in gpu_profiles:
        override = _profiles(stack)[expected.name]["kubespawner_override"]
        assert override["extra_resource_limits"] == {GPU_RESOURCE: expected.gpus}
        assert override["extra_resource_guarantees"] == {GPU_RESOURCE: expected.gpus}
        assert any(t["key"] == GPU_RESOURCE and t["effect"] == "NoSchedule" for t in override["tolerations"])
        # It tolerates the taint the GPU NodePool really carries and selects that pool.
        gpu_pools = [r for r in planned(stack).run.by_type("kubernetes:karpenter.sh/v1:NodePool") if r.inputs["spec"]["template"]["spec"].get("taints")]
        assert gpu_pools
        for taint in gpu_pools[0].inputs["spec"]["template"]["spec"]["taints"]:
            assert _tolerates(override["tolerations"], taint), taint
        assert override["node_selector"] == {"karpenter.sh/nodepool": gpu_pools[0].inputs["metadata"]["name"]}
        assert override["start_timeout"] == expected.start_timeout_seconds > values["singleuser"]["startTimeout"]


def _tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Kubernetes' matching rule of a toleration against a taint."""
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", taint["effect"]) or toleration.get("key") != taint["key"]:
            continue
        if toleration.get("operator") == "Exists" or toleration.get("value") == taint.get("value"):
            return True
    return False


def test_only_gpu_profiles_request_gpus_or_tolerate_the_gpu_taint(stack):
    for expected in planned(stack).config.notebooks.profiles:
        override = _profiles(stack)[expected.name]["kubespawner_override"]
        if expected.kind != "gpu":
            assert "extra_resource_limits" not in override and "tolerations" not in override, expected.name


def test_rstudio_profile_opens_rstudio_from_the_rstudio_repository(stack):
    (rstudio,) = [p for p in planned(stack).config.notebooks.profiles if p.kind == "rstudio"]
    override = _profiles(stack)[rstudio.name]["kubespawner_override"]
    assert override["default_url"] == "/rstudio"
    assert override["image"].startswith(_repository_urls(stack)["rstudio"] + ":")


# ---- culling and storage ------------------------------------------------------------------------


def test_culling_is_explicit_per_stack(stack):
    culling = planned(stack).config.notebooks.culling
    assert _values(stack)["cull"] == {
        "enabled": True,
        "users": False,
        "removeNamedServers": False,
        "adminUsers": True,
        "timeout": culling.idle_timeout_minutes * 60,
        "every": culling.check_interval_minutes * 60,
        "maxAge": culling.max_age_hours * 3600,
    }


def test_dev_culls_sooner_than_staging_and_prod():
    timeouts = {stack: _values(stack)["cull"]["timeout"] for stack in STACKS}
    assert timeouts["dev"] < timeouts["staging"] <= timeouts["prod"]


def test_culling_never_deletes_storage(stack):
    values = _values(stack)
    # Users are never culled (deleting a user would delete its volume), named servers are only
    # stopped, and KubeSpawner keeps PVCs even when a user is removed by hand.
    assert values["cull"]["users"] is False and values["cull"]["removeNamedServers"] is False
    assert values["hub"]["config"]["KubeSpawner"]["delete_pvc"] is False
    assert values["singleuser"]["storage"]["type"] == "dynamic"


def test_home_volumes_are_per_user_on_the_tagged_gp3_class(stack):
    storage = _values(stack)["singleuser"]["storage"]
    assert storage["capacity"] == f"{planned(stack).config.notebooks.storage_capacity_gi}Gi"
    storage_class = storage["dynamic"]["storageClass"]
    assert storage_class and _values(stack)["hub"]["db"]["pvc"]["storageClassName"] == storage_class
    classes = {r.inputs["metadata"]["name"]: r for r in planned(stack).run.by_type("kubernetes:storage.k8s.io/v1:StorageClass")}
    parameters = classes[storage_class].inputs["parameters"]
    assert parameters["type"] == "gp3" and parameters.get("encrypted") == "true"
    assert {value.split("=", 1)[0] for key, value in parameters.items() if key.startswith("tagSpecification_")} >= set(REQUIRED_TAG_KEYS)
    assert "pvcNameTemplate" not in storage["dynamic"] or "{username}" in storage["dynamic"]["pvcNameTemplate"]


# ---- sign-in ------------------------------------------------------------------------------------


def test_sign_in_is_oidc_in_every_stack_file(stack):
    auth = planned(stack).config.notebooks.auth
    hub_config = _values(stack)["hub"]["config"]
    assert hub_config["JupyterHub"]["authenticator_class"] == "generic-oauth"
    oauth = hub_config["GenericOAuthenticator"]
    assert oauth["client_id"] == auth.client_id
    assert oauth["authorize_url"] == auth.authorize_url and oauth["token_url"] == auth.token_url and oauth["userdata_url"] == auth.userdata_url
    assert oauth["oauth_callback_url"] == f"https://{planned(stack).config.notebooks.hostname}/hub/oauth_callback"
    assert set(oauth["allowed_groups"]) == {group for _, group in auth.team_groups} | set(auth.admin_groups)


def test_client_secret_comes_from_secrets_manager_never_from_values(stack):
    plan = planned(stack)
    values_text = json.dumps(_values(stack))
    assert SECRET_VALUE_IN_OFFLINE_PLANS not in values_text
    assert "client_secret" not in values_text
    env = _values(stack)["hub"]["extraEnv"]["OAUTH_CLIENT_SECRET"]
    assert env == {"valueFrom": {"secretKeyRef": {"name": OAUTH_SECRET_NAME, "key": OAUTH_SECRET_KEY}}}
    lookups = [args for token, args in plan.run.invokes if token == "aws:secretsmanager/getSecretVersion:getSecretVersion"]
    assert lookups and lookups[0]["secretId"] == plan.config.notebooks.auth.client_secret_name
    secrets = [r for r in plan.run.by_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == OAUTH_SECRET_NAME]
    assert len(secrets) == 1 and secrets[0].inputs["metadata"]["namespace"] == NAMESPACE
    # The stack file names the secret; it never holds one.
    assert [key for key in stack_yaml(stack)["config"]["mlplatform:notebooks"]["auth"] if "secret" in key.lower()] == ["clientSecretName"]


def test_dummy_sign_in_is_accepted_in_dev_only(plan_edited):
    def use_dummy(config):
        config["mlplatform:notebooks"]["auth"] = {"type": "dummy"}

    plan = plan_edited("dev", use_dummy)
    values = _release(plan.run).inputs["values"]
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "dummy"
    assert "mlplatform-team-profiles" not in values["hub"].get("extraConfig", {})
    assert not [r for r in plan.run.by_type("kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == OAUTH_SECRET_NAME]


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_dummy_sign_in_is_refused_outside_dev(stack_name, write_stack, capsys):
    document = stack_yaml(stack_name)
    document["config"]["mlplatform:notebooks"]["auth"] = {"type": "dummy"}
    path = write_stack(stack_name, document)
    assert main(["plan", stack_name, "--config-file", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "mlplatform:notebooks.auth.type" in stderr and "needs oidc" in stderr


# ---- team data access ---------------------------------------------------------------------------


def test_each_team_service_account_is_bound_to_the_teams_data_role(stack):
    plan = planned(stack)
    run = plan.run
    team_role_arns = {r.name.removeprefix("mlplatform-datalake-team-"): r.outputs["arn"] for r in run.by_type("aws:iam/role:Role") if r.name.startswith("mlplatform-datalake-team-")}
    associations = {r.inputs["serviceAccount"]: r for r in run.by_type(POD_IDENTITY) if r.inputs["namespace"] == NAMESPACE}
    assert set(associations) == {team_service_account(team) for team in plan.config.team_names}
    accounts = {r.inputs["metadata"]["name"] for r in run.by_type("kubernetes:core/v1:ServiceAccount") if r.inputs["metadata"].get("namespace") == NAMESPACE}
    assert accounts >= set(associations)
    for team in plan.config.team_names:
        association = associations[team_service_account(team)]
        assert association.inputs["roleArn"] == team_role_arns[team]
        assert association.inputs["clusterName"] == plan.config.cluster_name
        assert association.inputs["tags"] == {"Team": team, "Component": "notebooks", **({"CostCenter": plan.config.team(team).cost_center} if plan.config.team(team).cost_center else {})}


def test_every_profile_offers_each_team_through_its_service_account(stack):
    teams = planned(stack).config.team_names
    for profile in _profiles(stack).values():
        choices = profile["profile_options"]["team"]["choices"]
        assert set(choices) == set(teams)
        for team, choice in choices.items():
            assert choice["kubespawner_override"]["service_account"] == team_service_account(team)


def test_the_hub_offers_only_the_teams_of_the_users_groups(stack):
    auth = planned(stack).config.notebooks.auth
    hook = _values(stack)["hub"]["extraConfig"]["mlplatform-team-profiles"]
    namespace = {"c": _FakeConfig(_values(stack)["singleuser"]["profileList"])}
    exec(compile(hook, "extraConfig", "exec"), namespace)  # the hub runs exactly this code
    profiles_for_user = namespace["c"].KubeSpawner.profile_list
    first_team, first_group = auth.team_groups[0]
    offered = profiles_for_user(_FakeSpawner([first_group, "unrelated-group"]))
    assert offered and all(set(p["profile_options"]["team"]["choices"]) == {first_team} for p in offered)
    assert profiles_for_user(_FakeSpawner(["unrelated-group"])) == []


class _FakeConfig:
    def __init__(self, profile_list):
        self.KubeSpawner = type("KubeSpawnerConfig", (), {"profile_list": profile_list})()


class _FakeSpawner:
    def __init__(self, groups):
        self.user = type("User", (), {"groups": [type("Group", (), {"name": g})() for g in groups]})()


# ---- exposure -----------------------------------------------------------------------------------


def test_ingress_is_an_alb_with_tls_from_acm_per_stack(stack):
    notebooks = planned(stack).config.notebooks
    ingress = _values(stack)["ingress"]
    assert ingress["enabled"] is True and ingress["ingressClassName"] == "alb"
    assert ingress["hosts"] == [notebooks.hostname]
    annotations = ingress["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == notebooks.ingress.scheme
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == notebooks.ingress.certificate_arn
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert annotations["alb.ingress.kubernetes.io/inbound-cidrs"] == ",".join(notebooks.ingress.allowed_cidrs)
    assert _values(stack)["proxy"]["service"]["type"] == "ClusterIP"


def test_the_hub_alb_logs_access_and_refuses_deletion_where_the_stack_says(stack):
    plan = planned(stack)
    annotations = _values(stack)["ingress"]["annotations"]
    attributes = dict(item.split("=", 1) for item in annotations["alb.ingress.kubernetes.io/load-balancer-attributes"].split(","))
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == plan.config.datalake.access_log_bucket_name
    # A shared ALB logs under its ingress group's name (tests/components/test_load_balancers.py).
    assert attributes["access_logs.s3.prefix"] == f"alb/{plan.config.name_prefix if plan.config.cluster.shared_load_balancer else 'notebooks'}"
    assert attributes["deletion_protection.enabled"] == str(plan.config.notebooks.ingress.deletion_protection).lower()
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert {"dev": "false", "staging": "false", "prod": "true"}[stack] == attributes["deletion_protection.enabled"]


def test_a_waf_web_acl_is_one_stack_setting_away(plan_edited):
    acl = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/notebooks/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    plan = plan_edited("prod", lambda config: config["mlplatform:notebooks"]["ingress"].update(wafAclArn=acl))
    (release,) = [r for r in plan.run.by_type(RELEASE) if r.inputs["chart"] == "jupyterhub"]
    assert release.inputs["values"]["ingress"]["annotations"]["alb.ingress.kubernetes.io/wafv2-acl-arn"] == acl
    assert "alb.ingress.kubernetes.io/wafv2-acl-arn" not in _values("prod")["ingress"]["annotations"]


def test_schemes_differ_per_stack_as_configured():
    schemes = {stack: _values(stack)["ingress"]["annotations"]["alb.ingress.kubernetes.io/scheme"] for stack in STACKS}
    assert schemes == {"dev": "internal", "staging": "internal", "prod": "internet-facing"}


# ---- cost tags and labels -----------------------------------------------------------------------


def test_the_load_balancer_carries_all_cost_tags(stack):
    annotation = _values(stack)["ingress"]["annotations"]["alb.ingress.kubernetes.io/tags"]
    tags = dict(pair.split("=", 1) for pair in annotation.split(","))
    assert set(tags) == set(REQUIRED_TAG_KEYS)
    # A shared ALB is the network's (tests/components/test_load_balancers.py).
    assert tags["Component"] == ("network" if planned(stack).config.cluster.shared_load_balancer else "notebooks") and tags["Environment"] == stack


def test_pods_and_volumes_of_the_chart_carry_the_cost_labels(stack):
    values = _values(stack)
    for labels in (values["hub"]["labels"], values["proxy"]["labels"], values["singleuser"]["extraLabels"], values["singleuser"]["storage"]["extraLabels"]):
        assert all(labels.get(label) for label in LABEL_FOR_TAG.values())
        assert labels["mlplatform.io/component"] == "notebooks"
        # JupyterHub selects its Deployments on `component` and 4.x on app.kubernetes.io/name: a
        # label the chart owns here would break the selector and the API server refuses the Deployment.
        assert not [key for key in labels if is_owned_label(key) or key in ("app.kubernetes.io/name", "app.kubernetes.io/managed-by")]
    assert values["scheduling"]["userScheduler"]["labels"] == values["hub"]["labels"]


def test_a_notebook_server_and_its_home_are_billed_to_the_team_that_runs_it(stack):
    plan = planned(stack)
    classes = {c.inputs["metadata"]["name"]: c for c in plan.run.by_type("kubernetes:storage.k8s.io/v1:StorageClass")}
    for profile in _values(stack)["singleuser"]["profileList"]:
        for team, choice in profile["profile_options"]["team"]["choices"].items():
            override = choice["kubespawner_override"]
            # KubeSpawner merges dict overrides into singleuser.extraLabels: the team's labels win.
            for key in ("extra_labels", "storage_extra_labels"):
                assert override[key]["mlplatform.io/team"] == team
                assert override[key]["mlplatform.io/component"] == "notebooks"
                assert override[key]["mlplatform.io/cost-center"] == (plan.config.team(team).cost_center or plan.config.cost_center)
            # EBS volumes take their tags from the class, not from PVC labels.
            volume_class = classes[override["storage_class"]]
            volume_tags = dict(v.split("=", 1) for k, v in volume_class.inputs["parameters"].items() if k.startswith("tagSpecification_"))
            assert volume_tags["Team"] == team and volume_tags["Component"] == "notebooks"
            assert set(REQUIRED_TAG_KEYS) <= set(volume_tags)


def test_consolidation_never_stops_a_running_notebook(stack):
    # Karpenter would consolidate a CPU node under a running server and lose its in-memory work.
    assert _values(stack)["singleuser"]["extraAnnotations"] == {"karpenter.sh/do-not-disrupt": "true"}


def test_notebooks_kubernetes_objects_are_valid_and_labelled(stack):
    run = planned(stack).run
    objects = [r for r in run.resources if r.type.startswith("kubernetes:core/v1:") and "notebooks" in r.urn]
    assert {r.type for r in objects} >= {"kubernetes:core/v1:Namespace", "kubernetes:core/v1:ServiceAccount", "kubernetes:core/v1:Secret"}
    for resource in objects:
        document = {key: value for key, value in resource.inputs.items() if key in ("apiVersion", "kind", "metadata", "type", "stringData", "data")}
        if isinstance(document.get("stringData"), dict):
            document["stringData"] = {key: "redacted" for key in document["stringData"]}
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        assert all(resource.inputs["metadata"]["labels"].get(label) for label in LABEL_FOR_TAG.values()), resource.urn


# ---- bad config ---------------------------------------------------------------------------------


def _profile_edit(index, **changes):
    def edit(notebooks):
        notebooks["profiles"][index].update(changes)

    return edit


def _set(path, value):
    def edit(notebooks):
        node = notebooks
        *parents, last = path.split(".")
        for name in parents:
            node = node[name]
        node[last] = value

    return edit


BAD_NOTEBOOKS = [
    ("dev", _profile_edit(0, gpuType="a10g"), "mlplatform:notebooks.profiles[0].gpuType", "unknown key"),
    ("dev", _profile_edit(0, gpus=1), "mlplatform:notebooks.profiles[0].gpus", "only gpu profiles"),
    ("dev", _profile_edit(1, startTimeoutSeconds=120), "mlplatform:notebooks.profiles[1].startTimeoutSeconds", "longer than startTimeoutSeconds"),
    ("dev", _profile_edit(0, repository="jupyter"), "mlplatform:notebooks.profiles[0].repository", "expected one of notebook"),
    ("dev", _profile_edit(0, tag="latest"), "mlplatform:notebooks.profiles[0].tag", "pinned"),
    ("dev", _profile_edit(0, image="quay.io/jupyter/scipy-notebook:2025-01-13"), "mlplatform:notebooks.profiles[0].image", "not both"),
    ("dev", _profile_edit(2, default=True), "mlplatform:notebooks.profiles[2].default", "only one profile"),
    ("dev", _profile_edit(0, kind="tpu"), "mlplatform:notebooks.profiles[0].kind", "expected one of cpu, gpu, rstudio"),
    ("dev", _set("culling.idleTimeoutMinutes", -30), "mlplatform:notebooks.culling.idleTimeoutMinutes", "expected a number >= 5"),
    ("dev", _set("culling.checkIntervalMinutes", 45), "mlplatform:notebooks.culling.checkIntervalMinutes", "shorter than idleTimeoutMinutes"),
    ("dev", lambda n: n["culling"].pop("maxAgeHours"), "mlplatform:notebooks.culling.maxAgeHours", "required"),
    ("dev", _set("ingress.scheme", "public"), "mlplatform:notebooks.ingress.scheme", "internet-facing, internal"),
    ("dev", _set("ingress.certificateArn", "arn:aws:iam::123456789012:server-certificate/x"), "mlplatform:notebooks.ingress.certificateArn", "ACM certificate ARN"),
    ("prod", _set("ingress.allowedCidrs", ["0.0.0.0/0"]), "mlplatform:notebooks.ingress.allowedCidrs[0]", "whole internet"),
    ("prod", _set("ingress.wafAclArn", "arn:aws:waf::123456789012:webacl/x"), "mlplatform:notebooks.ingress.wafAclArn", "WAFv2 web ACL ARN"),
    ("dev", _set("auth.clientSecret", "hunter2"), "mlplatform:notebooks.auth.clientSecret", "unknown key"),
    ("dev", _set("auth.authorizeUrl", "http://login.acme.example/authorize"), "mlplatform:notebooks.auth.authorizeUrl", "https://"),
    ("dev", lambda n: n["auth"]["teamGroups"].pop("vision"), "mlplatform:notebooks.auth.teamGroups", "'vision' has none"),
    ("prod", _set("auth.type", "none"), "mlplatform:notebooks.auth.type", "expected one of oidc, dummy"),
    ("prod", _set("chartVersion", "^4.0"), "mlplatform:notebooks.chartVersion", "exact chart version"),
    ("staging", _set("storageCapacityGi", 0), "mlplatform:notebooks.storageCapacityGi", ">= 1"),
    ("prod", _set("ingress.certificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/b4e8f0a2-6c1d-4e3f-9b27-8d5a1c0e3f03"), "mlplatform:notebooks.ingress.certificateArn", "needs a certificate of its own region"),
    ("prod", _set("auth.clientSecretName", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:notebooks-Ab12Cd"), "mlplatform:notebooks.auth.clientSecretName", "replicate it to us-west-2"),
]


@pytest.mark.parametrize("stack_name,edit,key,words", BAD_NOTEBOOKS)
def test_bad_notebooks_config_is_exit_2_with_one_line(stack_name, edit, key, words, write_stack, capsys):
    document = stack_yaml(stack_name)
    edit(document["config"]["mlplatform:notebooks"])
    path = write_stack(stack_name, document)
    with pytest.raises(UserError) as error:
        plan_stack(stack_name, str(path))
    assert error.value.key == key and words in error.value.message, str(error.value)
    assert main(["plan", stack_name, "--config-file", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and key in stderr and path.name in stderr and "Traceback" not in stderr


def test_negative_cull_timeout_from_the_real_command_line(write_stack):
    document = stack_yaml("prod")
    document["config"]["mlplatform:notebooks"]["culling"]["idleTimeoutMinutes"] = -1
    result = run_mlp("plan", "prod", "--config-file", str(write_stack("prod", document)))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "mlplatform:notebooks.culling.idleTimeoutMinutes" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_gpu_profile_in_a_stack_without_a_gpu_pool_is_exit_2(write_stack, capsys):
    document = stack_yaml("dev")
    cluster = document["config"]["mlplatform:cluster"]
    cluster["nodePools"] = [pool for pool in cluster["nodePools"] if not pool.get("gpu")]
    # Team GPU quotas would be refused first without a GPU pool; this test is about the profile.
    cluster["teamQuotas"]["default"]["gpus"] = 0
    for quota in cluster["teamQuotas"].get("teams", {}).values():
        quota.pop("gpus", None)
    gpu_index = next(i for i, p in enumerate(document["config"]["mlplatform:notebooks"]["profiles"]) if p["kind"] == "gpu")
    path = write_stack("dev", document)
    assert main(["plan", "dev", "--config-file", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1
    assert f"mlplatform:notebooks.profiles[{gpu_index}].kind" in stderr and "needs a GPU node pool" in stderr


def test_a_cpu_profile_in_a_stack_without_a_cpu_pool_is_exit_2(write_stack, capsys):
    document = stack_yaml("dev")
    cluster = document["config"]["mlplatform:cluster"]
    cluster["nodePools"] = [pool for pool in cluster["nodePools"] if pool.get("gpu")]
    # CPU endpoints and scoring jobs would have nowhere to run either; this test is about the profile.
    document["config"].pop("mlplatform:endpoints")
    document["config"].pop("mlplatform:batchJobs")
    path = write_stack("dev", document)
    assert main(["plan", "dev", "--config-file", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1
    assert "mlplatform:notebooks.profiles[0].kind" in stderr and "needs a CPU node pool" in stderr
