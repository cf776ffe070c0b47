"""The ALBs the platform asks the AWS Load Balancer Controller for, alone or sharing one.

Where a stack says `cluster.sharedLoadBalancer: true`, the notebook hub's Ingress (made by the
JupyterHub chart) and every model server's Ingress join one ingress group. The controller builds
the group's ALB from all members and stops the whole group when two members disagree on a setting
it cannot merge (its annotation reference marks them "Exclusive"; conflicting tags fail in
pkg/ingress/model_build_tags.go, conflicting inbound CIDRs of one port in model_builder.go). These
tests hold the plans to that, and `mlp cost` to one ALB per group.
"""

from __future__ import annotations

import json

import pytest

from mlp.cost.context import annotations, is_alb_ingress, release_ingress
from tests.conftest import STACKS, planned, run_mlp, stack_yaml

PREFIX = "alb.ingress.kubernetes.io/"
# Load-balancer-wide annotations the controller refuses to merge across a group (v2.14 reference).
GROUP_WIDE = ("scheme", "ip-address-type", "load-balancer-attributes", "wafv2-acl-arn", "ssl-policy", "inbound-cidrs", "tags",
              "load-balancer-name", "security-groups", "subnets")


def alb_ingresses(stack: str) -> dict[str, tuple[dict, list[str]]]:
    """Every ALB Ingress of the plan, declared or made by a chart: name -> (annotations, hosts)."""
    found = {}
    for resource in planned(stack).resources:
        if resource.type == "kubernetes:networking.k8s.io/v1:Ingress" and is_alb_ingress(resource):
            hosts = [rule.get("host") for rule in resource.inputs["spec"]["rules"]]
            found[resource.name] = (annotations(resource), hosts)
        elif resource.type == "kubernetes:helm.sh/v3:Release" and (ingress := release_ingress(resource)) is not None:
            found[resource.name] = (ingress["annotations"], list(ingress.get("hosts") or []))
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_a_shared_alb_is_one_group_whose_members_agree(stack):
    shared = planned(stack).config.cluster.shared_load_balancer
    ingresses = alb_ingresses(stack)
    assert len(ingresses) >= 2, "the hub and at least one model server are exposed"
    groups = {notes.get(f"{PREFIX}group.name") for notes, _ in ingresses.values()}
    if not shared:
        assert groups == {None}, f"{stack} gives each Ingress its own ALB"
        return
    assert groups == {planned(stack).config.name_prefix}
    for key in GROUP_WIDE:
        values = {name: notes.get(f"{PREFIX}{key}") for name, (notes, _) in ingresses.items()}
        assert len(set(values.values())) == 1, f"{key} differs within the group: {values}"
    # The shared ALB is the network's, the platform team's; its access logs go under the group's name.
    tags = dict(pair.split("=", 1) for pair in next(iter(ingresses.values()))[0][f"{PREFIX}tags"].split(","))
    assert (tags["Team"], tags["Component"]) == (planned(stack).config.platform_team, "network")
    assert f"access_logs.s3.prefix=alb/{planned(stack).config.name_prefix}" in next(iter(ingresses.values()))[0][f"{PREFIX}load-balancer-attributes"]
    # Rules tell the members apart by host name, so no member catches another's traffic.
    hosts = [host for _, member_hosts in ingresses.values() for host in member_hosts]
    assert None not in hosts and len(hosts) == len(set(hosts))


def test_cost_prices_one_alb_for_the_group_and_one_per_ingress_without_it(tmp_path):
    def alb_lines(stack):
        done = run_mlp("cost", "--stack", stack, "--format", "json")
        assert done.returncode == 0, done.stderr
        return [c for r in json.loads(done.stdout)["resources"] for c in r["costComponents"] if c["name"].startswith("Application load balancer")]

    assert len(alb_lines("dev")) == 1
    assert len(alb_lines("staging")) == len(alb_ingresses("staging"))


def _shared(config):
    config["mlplatform:cluster"]["sharedLoadBalancer"] = True


@pytest.mark.parametrize("edit,expected", [
    (lambda c: c["mlplatform:endpoints"][1]["kubernetes"]["ingress"].update(allowedCidrs=["10.1.0.0/16"]),
     "mlplatform:endpoints[1].kubernetes.ingress.allowedCidrs: is ('10.1.0.0/16',) but mlplatform:notebooks.ingress.allowedCidrs is"),
    (lambda c: c["mlplatform:endpoints"][1]["kubernetes"]["ingress"].pop("hostname"),
     "mlplatform:endpoints[1].kubernetes.ingress.hostname: is required: the shared load balancer routes to each service by host name"),
    (lambda c: c["mlplatform:endpoints"][1]["kubernetes"]["ingress"].update(hostname="notebooks.dev.ml.acme.example"),
     "mlplatform:endpoints[1].kubernetes.ingress.hostname: notebooks.dev.ml.acme.example is already the host name of mlplatform:notebooks.hostname"),
    (lambda c: c["mlplatform:notebooks"]["ingress"].update(deletionProtection=True),
     "mlplatform:endpoints[1].kubernetes.ingress.deletionProtection: is false but mlplatform:notebooks.ingress.deletionProtection is true"),
])
def test_members_that_cannot_share_are_refused_naming_the_key(write_stack, edit, expected):
    document = stack_yaml("dev")
    _shared(document["config"])
    edit(document["config"])
    done = run_mlp("plan", "dev", "--config-file", str(write_stack("dev", document)))
    assert done.returncode == 2, done.stdout
    assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
