"""Checks of what the workloads pull at start: images in ECR, model artifacts in S3, model packages.

Platform repositories and the models bucket are created by the stack itself, so before the first
`pulumi up` their check fails with the step that fixes it (docs/deploy.md, "First deployment"):
create the registries and the lake first, push and upload, then deploy the rest."""

from __future__ import annotations

from mlp import aws
from mlp.preflight.lines import Clients, Line, fail, lookup, ok
from mlp.preflight.references import Artifact, Image, References

FIRST_STEP = "the stack creates it: run the first, targeted `pulumi up` (docs/deploy.md), then"


def image(clients: Clients, reference: Image) -> Line:
    check = "image"
    ecr = clients.get("ecr", reference.region)
    request: dict = {"repositoryName": reference.repository,
                     "imageIds": [{"imageDigest": reference.ref.digest} if reference.ref.digest else {"imageTag": reference.ref.tag}]}
    if reference.registry_id:
        request["registryId"] = reference.registry_id
    answer = lookup(ecr, "describe_images", ("RepositoryNotFoundException", "ImageNotFoundException"), **request)
    if answer is None:
        missing_repository = lookup(ecr, "describe_repositories", ("RepositoryNotFoundException",), repositoryNames=[reference.repository],
                                    **({"registryId": reference.registry_id} if reference.registry_id else {})) is None
        if missing_repository:
            how = f"{FIRST_STEP} push it (images.yml)" if reference.platform_repository else "push it or fix the reference"
            return fail(check, reference.key, f"repository {reference.repository} does not exist in {reference.region}: {how}")
        return fail(check, reference.key, f"{reference.shown} is not in ECR ({reference.region}): build and push it (.github/workflows/images.yml)")
    details = aws.need(answer, "imageDetails", list, aws.api_name(ecr, "describe_images"), "")
    if not details:
        return fail(check, reference.key, f"{reference.shown} is not in ECR ({reference.region}): build and push it")
    return ok(check, reference.key, f"{reference.shown} is in ECR")


def artifact(clients: Clients, reference: Artifact) -> Line:
    check = "baseline file" if reference.key.endswith(".baseline") else "model artifact"
    s3 = clients.get("s3")
    location = reference.location
    missing = ("NoSuchBucket", "NoSuchKey", "404")
    if location.is_prefix:
        answer = lookup(s3, "list_objects_v2", missing, Bucket=location.bucket, Prefix=location.key, MaxKeys=1)
        found = answer is not None and bool(aws.need(answer, "Contents", list, aws.api_name(s3, "list_objects_v2"), "", optional=True))
    else:
        found = lookup(s3, "head_object", missing, Bucket=location.bucket, Key=location.key) is not None
    if found:
        return ok(check, reference.key, f"{location.uri} exists")
    bucket = lookup(s3, "head_bucket", ("NoSuchBucket", "404"), Bucket=location.bucket)
    if bucket is None:
        return fail(check, reference.key, f"bucket {location.bucket} does not exist: {FIRST_STEP} upload {location.uri}")
    return fail(check, reference.key, f"{location.uri} does not exist: upload it there")


def model_package(clients: Clients, key: str, arn: str) -> Line:
    check = "model package"
    sagemaker = clients.get("sagemaker", arn.split(":")[3])
    answer = lookup(sagemaker, "describe_model_package", ("ValidationException", "ResourceNotFound"), ModelPackageName=arn)
    if answer is None:
        return fail(check, key, f"{arn} does not exist: {FIRST_STEP} register the model version in its group")
    status = aws.need(answer, "ModelApprovalStatus", str, aws.api_name(sagemaker, "describe_model_package"), "", optional=True) or "PendingManualApproval"
    if status != "Approved":
        return fail(check, key, f"{arn} is {status}: an approver must approve it before an endpoint may serve it")
    return ok(check, key, f"{arn.rsplit('/', 2)[-2]} version {arn.rsplit('/', 1)[1]} is Approved")


def artifact_checks(clients: Clients, references: References) -> list[Line]:
    lines = [image(clients, reference) for reference in references.images]
    lines += [artifact(clients, reference) for reference in references.artifacts]
    lines += [model_package(clients, key, arn) for key, arn in references.model_packages]
    return lines
