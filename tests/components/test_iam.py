"""Shared IAM documents: the shapes AWS accepts, and trust limited to the intended principal."""

import json

from components.iam import deny_insecure_transport, pod_identity_trust_policy, policy_document, service_trust_policy, service_trust_statement


def test_policy_documents_carry_the_current_version():
    assert json.loads(policy_document([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])) == {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def test_service_trust_names_each_service_once():
    document = json.loads(service_trust_policy("ec2.amazonaws.com", "eks.amazonaws.com"))
    assert [s["Principal"]["Service"] for s in document["Statement"]] == ["ec2.amazonaws.com", "eks.amazonaws.com"]
    assert all(s["Action"] == "sts:AssumeRole" and s["Effect"] == "Allow" for s in document["Statement"])


def test_conditions_guard_against_confused_deputies():
    statement = service_trust_statement("sagemaker.amazonaws.com", {"StringEquals": {"aws:SourceAccount": "123456789012"}})
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "Condition" not in service_trust_statement("ec2.amazonaws.com")


def test_pod_identity_may_tag_sessions():
    (statement,) = json.loads(pod_identity_trust_policy())["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]  # Pod Identity tags every session


def test_insecure_transport_is_denied_to_everyone():
    statement = deny_insecure_transport("sqs:*", "arn:aws:sqs:us-east-1:123456789012:q")
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
