"""A clean copy of a shipped stack file (every placeholder replaced) and an account in which
everything it references exists, seeded through the real APIs of moto and the stub."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from components.config import parse_config
from mlp import PROJECT_ROOT
from mlp.preflight.capacity import ami_parameter, needed_amis
from mlp.preflight.quotas import QUOTAS
from mlp.preflight.references import collect
from tests.mlp.preflight.conftest import ACCOUNT, Stub, client

REPLACEMENTS = (("123456789012", ACCOUNT), ("210987654321", "135792468013"), ("acme.example", "initech.io"), ("acme", "initech"),
                ("203.0.113.", "100.64.1."), ("198.51.100.", "100.64.2."))


def clean_text(stack: str) -> str:
    text = (PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    for old, new in REPLACEMENTS:
        text = text.replace(old, new)
    return text


def self_signed(names: list[str], days: int = 365) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                   .sign(key, hashes.SHA256()))
    return (certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))


def import_certificate(endpoint: str, region: str, names: list[str]) -> str:
    body, key = self_signed(names)
    return client(endpoint, "acm", region).import_certificate(Certificate=body, PrivateKey=key)["CertificateArn"]


def _document(text: str) -> dict:
    return yaml.safe_load(text)


def seed(stack: str, endpoint: str, stub: Stub, tmp_path: Path) -> tuple[Path, Any]:
    """Write the clean stack file and create everything it references; (its path, its config)."""
    text = clean_text(stack)
    config = parse_config(_document(text)["config"], stack)
    region = config.region
    references = collect(config)
    for reference in references.certificates:
        if reference.arn in text:
            arn = import_certificate(endpoint, region, [config.notebooks.hostname, f"*.{config.notebooks.hostname.split('.', 1)[1]}"])
            text = text.replace(reference.arn, arn)
    manager = client(endpoint, "secretsmanager", region)
    for key, secret_id in references.secrets:
        name = secret_id.split(":secret:", 1)[1].rsplit("-", 1)[0] if secret_id.startswith("arn:") else secret_id
        arn = manager.create_secret(Name=name, SecretString="client-secret")["ARN"]
        text = text.replace(secret_id, arn if secret_id.startswith("arn:") else name)
    iam = client(endpoint, "iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                                 "Action": "sts:AssumeRole"}]})
    for name in sorted({arn.rsplit("/", 1)[1] for _, arn in references.roles}):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    for image in references.images:
        ecr = client(endpoint, "ecr", image.region)
        try:
            ecr.create_repository(repositoryName=image.repository)
        except ecr.exceptions.RepositoryAlreadyExistsException:
            pass
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                               "config": {"digest": "sha256:" + "0" * 64, "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"},
                               "layers": []})
        ecr.put_image(repositoryName=image.repository, imageManifest=manifest, imageTag=image.ref.tag)
    s3 = client(endpoint, "s3", region)
    for bucket in sorted({a.location.bucket for a in references.artifacts}):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region} if region != "us-east-1" else {})
    for artifact in references.artifacts:
        key = artifact.location.key + ("model.tar.gz" if artifact.location.is_prefix else "")
        s3.put_object(Bucket=artifact.location.bucket, Key=key, Body=io.BytesIO(b"model"))
    sagemaker = client(endpoint, "sagemaker", region)
    for key, arn in references.model_packages:
        group, version = arn.rsplit("/", 2)[1:]
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
        for _ in range(int(version)):
            created = sagemaker.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                                     InferenceSpecification={"Containers": [{"Image": "serving:1"}],
                                                                             "SupportedContentTypes": ["text/csv"],
                                                                             "SupportedResponseMIMETypes": ["text/csv"]})
        text = text.replace(arn, created["ModelPackageArn"])
    for key, arn in references.connections:
        stub.connections[arn] = "AVAILABLE"
    for architecture, variant in needed_amis(config):
        stub.parameters[ami_parameter(config.cluster.kubernetes_version, architecture, variant, config.cluster.ami_alias.partition("@")[2])] = "ami-0abc"
    stub.quotas.update({code: 100_000.0 for code, _ in QUOTAS.values()})
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path, parse_config(_document(text)["config"], stack)
