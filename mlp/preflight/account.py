"""Checks of what people create by hand in the account: certificates, secrets, roles, the GitHub
connection of the CI runner."""

from __future__ import annotations

from typing import Any

from mlp import aws
from mlp.preflight.lines import Clients, Line, fail, lookup, ok
from mlp.preflight.references import Certificate, References, arn_account, arn_region


def covers(names: list[str], hostname: str) -> bool:
    """Whether a certificate for `names` is valid for `hostname` (a wildcard covers one label)."""
    host = hostname.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host or (name.startswith("*.") and host.count(".") == name.count(".") and host.split(".", 1)[1] == name[2:]):
            return True
    return False


def in_account(check: str, key: str, arn: str, account: str) -> Line | None:
    """A FAIL line if an ARN names another account than the credentials' (a placeholder, or the
    wrong profile): everything the stack references by ARN here lives in its own account."""
    if arn_account(arn) != account:
        return fail(check, key, f"{arn} is in account {arn_account(arn)}, but the credentials are for account {account}")
    return None


def certificate(clients: Clients, reference: Certificate, account: str, region: str) -> Line:
    check = "certificate"
    wrong = in_account(check, reference.key, reference.arn, account)
    if wrong:
        return wrong
    if arn_region(reference.arn) != region:
        return fail(check, reference.key, f"is in {arn_region(reference.arn)}; a load balancer in {region} needs a certificate in {region}")
    acm = clients.get("acm", region)
    answer = lookup(acm, "describe_certificate", ("ResourceNotFoundException",), CertificateArn=reference.arn)
    if answer is None:
        return fail(check, reference.key, f"{reference.arn} does not exist (request or import it in ACM, {region})")
    api = aws.api_name(acm, "describe_certificate")
    details = aws.need(answer, "Certificate", dict, api, "")
    status = aws.need(details, "Status", str, api, "Certificate")
    if status != "ISSUED":
        return fail(check, reference.key, f"is {status}, not ISSUED (finish DNS validation in ACM)")
    names = [aws.need(details, "DomainName", str, api, "Certificate"), *aws.need(details, "SubjectAlternativeNames", list, api, "Certificate", optional=True)]
    if reference.hostname and not covers(names, reference.hostname):
        return fail(check, reference.key, f"ISSUED for {', '.join(sorted(set(names)))}, which does not cover {reference.hostname}")
    return ok(check, reference.key, "ISSUED" + (f" for {reference.hostname}" if reference.hostname else f" ({names[0]})"))


def secret(clients: Clients, key: str, secret_id: str, account: str, region: str) -> Line:
    check = "secret"
    if secret_id.startswith("arn:"):
        wrong = in_account(check, key, secret_id, account)
        if wrong:
            return wrong
        region = arn_region(secret_id)
    manager = clients.get("secretsmanager", region)
    answer = lookup(manager, "describe_secret", ("ResourceNotFoundException",), SecretId=secret_id)
    if answer is None:
        return fail(check, key, f"{secret_id} does not exist in Secrets Manager ({region}); create it with the value (docs/deploy.md)")
    api = aws.api_name(manager, "describe_secret")
    if answer.get("DeletedDate") is not None:
        return fail(check, key, f"{secret_id} is scheduled for deletion; restore it (RestoreSecret)")
    stages = aws.need(answer, "VersionIdsToStages", dict, api, "", optional=True)
    if not any("AWSCURRENT" in (labels or []) for labels in stages.values()):
        return fail(check, key, f"{secret_id} has no current value; put the secret value")
    return ok(check, key, f"{aws.need(answer, 'Name', str, api, '')} exists with a current value")


def role(clients: Clients, key: str, arn: str, account: str) -> Line:
    check = "role"
    wrong = in_account(check, key, arn, account)
    if wrong:
        return wrong
    name = arn.rsplit("/", 1)[1]
    iam = clients.get("iam", "us-east-1")
    answer = lookup(iam, "get_role", ("NoSuchEntity",), RoleName=name)
    if answer is None:
        return fail(check, key, f"role {name} does not exist (bootstrap/ creates the deploy roles; admin roles come from your identity setup)")
    found = aws.need(aws.need(answer, "Role", dict, aws.api_name(iam, "get_role"), ""), "Arn", str, aws.api_name(iam, "get_role"), "Role")
    if found != arn:
        return fail(check, key, f"role {name} exists as {found}, not {arn} (check the path)")
    return ok(check, key, f"role {name} exists")


def connection(clients: Clients, key: str, arn: str, account: str) -> Line:
    check = "github connection"
    wrong = in_account(check, key, arn, account)
    if wrong:
        return wrong
    # The CodeStar Connections API serves connections under both ARN prefixes (codestar-connections
    # and its successor codeconnections) and answers in JSON.
    connections = clients.get("codestar-connections", arn_region(arn))
    answer = lookup(connections, "get_connection", ("ResourceNotFoundException",), ConnectionArn=arn)
    if answer is None:
        return fail(check, key, f"{arn} does not exist; create a GitHub connection in CodeConnections and authorise it")
    api = aws.api_name(connections, "get_connection")
    status = aws.need(aws.need(answer, "Connection", dict, api, ""), "ConnectionStatus", str, api, "Connection")
    if status != "AVAILABLE":
        return fail(check, key, f"is {status}: finish the handshake in the console (Developer Tools > Connections > Update pending connection)")
    return ok(check, key, "AVAILABLE")


def account_checks(clients: Clients, references: References, account: str, region: str) -> list[Line]:
    lines: list[Line] = []
    for reference in references.certificates:
        lines.append(certificate(clients, reference, account, region))
    for key, secret_id in references.secrets:
        lines.append(secret(clients, key, secret_id, account, region))
    for key, arn in references.roles:
        lines.append(role(clients, key, arn, account))
    for key, arn in references.connections:
        lines.append(connection(clients, key, arn, account))
    return lines


def caller_account(clients: Clients) -> str:
    sts = clients.get("sts")
    answer: Any = aws.call(sts, "get_caller_identity")
    return aws.need(answer, "Account", str, aws.api_name(sts, "get_caller_identity"), "")
