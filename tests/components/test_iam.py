"""Shared IAM documents: the shapes AWS accepts, and trust limited to the intended principal."""

import json

import pytest

from components.iam import (
    PodSubject,
    deny_insecure_transport,
    pod_identity_trust_policy,
    policy_document,
    scoped_service_trust_policy,
    service_trust_policy,
    service_trust_statement,
    via_services,
)

CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/c"


def test_policy_documents_carry_the_current_version():
    assert json.loads(policy_document([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])) == {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def test_service_trust_names_each_service_once():
    document = json.loads(service_trust_policy("ec2.amazonaws.com", "eks.amazonaws.com"))
    assert [s["Principal"]["Service"] for s in document["Statement"]] == ["ec2.amazonaws.com", "eks.amazonaws.com"]
    assert all(s["Action"] == "sts:AssumeRole" and s["Effect"] == "Allow" for s in document["Statement"])


def test_services_that_report_their_source_cannot_be_trusted_without_it():
    with pytest.raises(ValueError, match="source condition"):
        service_trust_policy("vpc-flow-logs.amazonaws.com")
    (statement,) = json.loads(scoped_service_trust_policy("vpc-flow-logs.amazonaws.com", "123456789012", "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"))["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                                      "ArnLike": {"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"}}


def test_conditions_guard_against_confused_deputies():
    statement = service_trust_statement("sagemaker.amazonaws.com", {"StringEquals": {"aws:SourceAccount": "123456789012"}})
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "Condition" not in service_trust_statement("ec2.amazonaws.com")


def test_pod_identity_trust_names_account_cluster_namespace_and_service_account():
    (statement,) = json.loads(pod_identity_trust_policy("123456789012", CLUSTER_ARN, [PodSubject("team", "app")]))["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]  # Pod Identity tags every session
    assert statement["Condition"] == {"StringEquals": {
        "aws:SourceAccount": "123456789012", "aws:RequestTag/eks-cluster-arn": CLUSTER_ARN,
        "aws:RequestTag/kubernetes-namespace": "team", "aws:RequestTag/kubernetes-service-account": "app"}}


def test_one_statement_per_namespace_so_names_never_mix_across_namespaces():
    subjects = [PodSubject("notebooks", "notebook-vision"), PodSubject("vision", "ray"), PodSubject("vision", "spark")]
    statements = json.loads(pod_identity_trust_policy("123456789012", CLUSTER_ARN, subjects))["Statement"]
    scopes = {s["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"]: s["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"]
              for s in statements}
    assert scopes == {"notebooks": "notebook-vision", "vision": ["ray", "spark"]}
    with pytest.raises(ValueError):
        pod_identity_trust_policy("123456789012", CLUSTER_ARN, [])


def test_key_use_through_named_services_only():
    assert via_services("s3", region="us-east-1") == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    assert via_services("s3", "sagemaker", region="eu-west-1")["StringEquals"]["kms:ViaService"] == [
        "s3.eu-west-1.amazonaws.com", "sagemaker.eu-west-1.amazonaws.com"]


def test_insecure_transport_is_denied_to_everyone():
    statement = deny_insecure_transport("sqs:*", "arn:aws:sqs:us-east-1:123456789012:q")
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
