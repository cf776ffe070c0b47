"""`mlp preflight` end to end: a clean stack whose every reference exists passes; each thing taken
away fails its own line with exit 2; a service that fails is exit 1."""

from __future__ import annotations

import pytest

from mlp.cli import main
from tests.mlp.preflight.conftest import ACCOUNT, client
from tests.mlp.preflight.seed import seed


def preflight(capsys, stack_file, stack: str, endpoint: str, *extra: str) -> tuple[int, list[str], str]:
    code = main(["preflight", stack, "--config-file", str(stack_file), "--endpoint-url", endpoint, *extra])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_a_clean_stack_in_a_ready_account_passes_every_check(stack, aws_env, tmp_path, capsys):
    endpoint, stub = aws_env
    path, config = seed(stack, endpoint, stub, tmp_path)
    code, lines, err = preflight(capsys, path, stack, endpoint, "--split-cost-allocation-enabled")
    assert code == 0, "\n".join(lines) + err
    assert lines[-1].startswith("all ") and lines[-1].endswith(" checks passed")
    checks = [line.split()[1] for line in lines[:-1]]
    assert all(line.startswith("ok ") for line in lines[:-1])
    for kind in ("placeholders", "certificate", "role", "image", "model", "ami", "instance", "vcpu", "split"):
        assert kind in checks, (kind, checks)
    if config.notebooks.auth.client_secret_name:
        assert "secret" in checks
    if config.ci_runner:
        assert any(line.startswith("ok    github connection") for line in lines)


def test_the_shipped_stack_files_fail_on_their_placeholders_without_aws(capsys):
    code = main(["preflight", "prod", "--offline"])
    captured = capsys.readouterr()
    assert code == 2
    failed = [line for line in captured.out.splitlines() if line.startswith("FAIL")]
    assert any("mlplatform:notebooks.hostname: 'notebooks.ml.acme.example' holds a reserved example domain" in line for line in failed)
    assert any("mlplatform:cluster.deployRoleArn" in line and "example account ID (123456789012)" in line for line in failed)
    assert any("mlplatform:notebooks.ingress.allowedCidrs[0]" in line and "documentation network" in line for line in failed)
    assert captured.err.startswith("mlp preflight: stacks/Pulumi.prod.yaml: ") and captured.err.count("\n") == 1


def _break(stack_file, old: str, new: str) -> None:
    text = stack_file.read_text()
    assert old in text
    stack_file.write_text(text.replace(old, new))


BREAKS = {
    "certificate missing": ("certificate", "mlplatform:notebooks.ingress.certificateArn", "does not exist"),
    "certificate pending": ("certificate", "mlplatform:notebooks.ingress.certificateArn", "is PENDING_VALIDATION, not ISSUED"),
    "certificate for another host": ("certificate", "mlplatform:notebooks.ingress.certificateArn", "does not cover"),
    "certificate in another account": ("certificate", "mlplatform:notebooks.ingress.certificateArn", "is in account 999988887777"),
    "secret missing": ("secret", "mlplatform:notebooks.auth.clientSecretName", "does not exist in Secrets Manager"),
    "secret deleted": ("secret", "mlplatform:notebooks.auth.clientSecretName", "scheduled for deletion"),
    "secret without value": ("secret", "mlplatform:notebooks.auth.clientSecretName", "has no current value"),
    "deploy role missing": ("role", "mlplatform:cluster.deployRoleArn", "role mlplatform-prod-deployer does not exist"),
    "image missing": ("image", "mlplatform:cluster.gpuAgent.image", "is not in ECR"),
    "repository missing": ("image", "mlplatform:notebooks.profiles[3]", "repository mlplatform-prod/rstudio does not exist"),
    "model object missing": ("model artifact", "mlplatform:endpoints[1].model", "does not exist: upload it there"),
    "model bucket missing": ("model artifact", "mlplatform:endpoints[1].model", "bucket initech-mlplatform-prod-models does not exist"),
    "model package pending": ("model package", "mlplatform:endpoints[0].model", "is PendingManualApproval"),
    "model package missing": ("model package", "mlplatform:endpoints[0].model", "does not exist"),
    "connection pending": ("github connection", "mlplatform:ciRunner.connectionArn", "is PENDING"),
    "connection missing": ("github connection", "mlplatform:ciRunner.connectionArn", "does not exist"),
    "ami release missing": ("ami", "mlplatform:cluster.amiAlias", "has no x86_64 nvidia AMI for Kubernetes 1.33"),
    "family not offered": ("instance types", "mlplatform:cluster.nodePools[1]", "family g9: not offered in us-west-2a, us-west-2b, us-west-2c (us-west-2)"),
    "gpu quota too small": ("vcpu quota", "mlplatform:cluster", "L-DB2E81BA Running On-Demand G and VT instances: 0 vCPUs, the pools may need 1024"),
    "split cost allocation unconfirmed": ("split cost alloc.", "account", "no AWS API reports it"),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_missing_reference_fails_its_own_line(name, aws_env, tmp_path, capsys):
    endpoint, stub = aws_env
    path, config = seed("prod", endpoint, stub, tmp_path)
    region = config.region
    flags = ["--split-cost-allocation-enabled"]
    notebook_cert = config.notebooks.ingress.certificate_arn
    secret = config.notebooks.auth.client_secret_name
    acm, manager, ecr, s3 = (client(endpoint, s, region) for s in ("acm", "secretsmanager", "ecr", "s3"))
    if name == "certificate missing":
        acm.delete_certificate(CertificateArn=notebook_cert)
    elif name == "certificate pending":
        _break(path, notebook_cert, acm.request_certificate(DomainName=config.notebooks.hostname, ValidationMethod="DNS")["CertificateArn"])
    elif name == "certificate for another host":
        from tests.mlp.preflight.seed import import_certificate

        _break(path, notebook_cert, import_certificate(endpoint, region, ["other.initech.io"]))
    elif name == "certificate in another account":
        _break(path, notebook_cert, notebook_cert.replace(ACCOUNT, "999988887777"))
    elif name == "secret missing":
        manager.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
    elif name == "secret deleted":
        manager.delete_secret(SecretId=secret, RecoveryWindowInDays=7)
    elif name == "secret without value":
        manager.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
        _break(path, secret, manager.create_secret(Name="mlplatform/prod/notebooks/empty")["ARN"])
    elif name == "deploy role missing":
        client(endpoint, "iam").delete_role(RoleName="mlplatform-prod-deployer")
    elif name == "image missing":
        ecr.batch_delete_image(repositoryName="mlplatform-prod/gpu-agent", imageIds=[{"imageTag": config.cluster.gpu_agent.image.tag}])
    elif name == "repository missing":
        ecr.delete_repository(repositoryName="mlplatform-prod/rstudio", force=True)
    elif name in ("model object missing", "model bucket missing"):
        location = config.endpoints[1].model_source
        for item in s3.list_objects_v2(Bucket=location.bucket).get("Contents", []):
            if name == "model bucket missing" or item["Key"].startswith(location.key):
                s3.delete_object(Bucket=location.bucket, Key=item["Key"])
        if name == "model bucket missing":
            s3.delete_bucket(Bucket=location.bucket)
    elif name == "model package pending":
        client(endpoint, "sagemaker", region).update_model_package(ModelPackageArn=config.endpoints[0].model_source,
                                                                    ModelApprovalStatus="PendingManualApproval")
    elif name == "model package missing":
        _break(path, config.endpoints[0].model_source, config.endpoints[0].model_source.rsplit("/", 1)[0] + "/99")
    elif name == "connection pending":
        stub.connections[config.ci_runner.connection_arn] = "PENDING"
    elif name == "connection missing":
        stub.connections.clear()
    elif name == "ami release missing":
        for parameter in [p for p in stub.parameters if "/nvidia/" in p]:
            del stub.parameters[parameter]
    elif name == "family not offered":
        _break(path, "instanceFamilies: [g5, g6, p4d]", "instanceFamilies: [g5, g9, p4d]")
    elif name == "gpu quota too small":
        stub.quotas["L-DB2E81BA"] = 0.0
    elif name == "split cost allocation unconfirmed":
        flags = []
    code, lines, err = preflight(capsys, path, "prod", endpoint, *flags)
    check, key, expected = BREAKS[name]
    failed = [line for line in lines if line.startswith("FAIL")]
    assert code == 2, "\n".join(lines) + err
    assert len(failed) >= 1 and any(line.split(None, 1)[1].startswith(check) and f"{key}: " in line and expected in line for line in failed), \
        "\n".join(failed)
    assert "checks failed" in err and err.count("\n") == 1


@pytest.mark.parametrize("operation", ["GetServiceQuota", "GetParameter", "GetConnection"])
def test_a_service_that_fails_is_exit_1_naming_the_api(operation, aws_env, tmp_path, capsys):
    endpoint, stub = aws_env
    path, _ = seed("prod", endpoint, stub, tmp_path)
    stub.broken.add(operation)
    code, lines, err = preflight(capsys, path, "prod", endpoint, "--split-cost-allocation-enabled")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("mlp preflight: ") and operation in err and "InternalFailure" in err
    assert "Traceback" not in err


def test_a_garbled_quota_is_exit_1_not_a_number(aws_env, tmp_path, capsys):
    endpoint, stub = aws_env
    path, _ = seed("prod", endpoint, stub, tmp_path)
    stub.quotas["L-DB2E81BA"] = float("nan")
    code, lines, err = preflight(capsys, path, "prod", endpoint, "--split-cost-allocation-enabled")
    assert code == 1 and "Quota.Value" in err


def test_without_credentials_it_is_bad_input(tmp_path, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    # A command is a fresh process: no session (with credentials found earlier) carried over.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    code = main(["preflight", "dev", "--endpoint-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mlp preflight: AWS credentials: none found")
