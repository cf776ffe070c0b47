"""The offline runner: repeated runs in one process stay independent (the mocks pitfalls)."""

from mlp.offline import export_document, run_program
from mlp.stackfile import as_pulumi_config, load_stack


def _run(stack):
    raw, config = load_stack(stack)
    return run_program(stack, as_pulumi_config(raw), config.region)


def test_runs_do_not_leak_into_each_other():
    first_dev = _run("dev")
    _run("prod")
    second_dev = _run("dev")
    assert [r.urn for r in first_dev.resources] == [r.urn for r in second_dev.resources]
    assert all(r.urn.startswith("urn:pulumi:dev::mlplatform::") for r in second_dev.resources)


def test_every_resource_is_recorded_with_its_parent_chain():
    run = _run("staging")
    urns = {r.urn for r in run.resources}
    assert run.resources[0].type == "pulumi:pulumi:Stack"
    assert all(r.parent in urns for r in run.resources[1:])
    lake_bucket = next(r for r in run.resources if r.type == "aws:s3/bucket:Bucket")
    assert "mlplatform:index:Platform$mlplatform:datalake:DataLake$aws:s3/bucket:Bucket" in lake_bucket.urn


def test_outputs_the_program_reads_are_synthesized():
    run = _run("dev")
    key = run.by_type("aws:kms/key:Key")[0]
    assert key.outputs["arn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert ("aws:index/getCallerIdentity:getCallerIdentity", {}) in run.invokes


def test_export_is_deterministic_apart_from_timestamps():
    def strip(document):
        for resource in document["deployment"]["resources"]:
            resource.pop("created"), resource.pop("modified")
        document["deployment"]["manifest"].pop("time")
        return document

    assert strip(export_document(_run("dev"))) == strip(export_document(_run("dev")))


def test_program_itself_reports_bad_config_as_a_plain_run_error():
    """Under a real `pulumi up` the program validates too; RunError prints without a traceback."""
    import pulumi
    import pytest

    from mlp.stackfile import read_stack_config, stack_file_path

    raw = read_stack_config(stack_file_path("dev"))
    raw["mlplatform:network"]["natGateways"] = "many"
    with pytest.raises(pulumi.RunError) as raised:
        run_program("dev", as_pulumi_config(raw), "us-east-1")
    assert str(raised.value) == "stacks/Pulumi.dev.yaml: mlplatform:network.natGateways: expected one of single, one-per-az, instance, got 'many'"
