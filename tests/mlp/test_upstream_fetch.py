"""mlp.upstream_fetch with a fake Helm and a fake network: the right `helm pull`, every digest
checked before anything reaches the cache, and one clear line per artifact that cannot be fetched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from mlp import upstream, upstream_fetch
from tests.mlp.test_upstream import CHART_FILES, CHART_REPOSITORY, CRD_FILES, sandbox, write_files  # noqa: F401 (fixture)

CRD_URL = "https://raw.example.com/demo/v1.0.0/demo.example.com_widgets.yaml"


class FakeHelm:
    """Records `helm pull` calls and unpacks the given files where `--untardir` says, as Helm does."""

    def __init__(self, files: dict[str, str] = CHART_FILES, folder: str = "demo"):
        self.files, self.folder, self.calls = files, folder, []

    def __call__(self, args: list[str]) -> None:
        self.calls.append(args)
        write_files(Path(args[args.index("--untardir") + 1]) / self.folder, self.files)


def refuse(*_):
    raise AssertionError("must not be called")


@pytest.fixture
def lock_with_urls(sandbox):
    crd_files = [{"name": name, "url": CRD_URL, "sha256": hashlib.sha256(text.encode()).hexdigest()} for name, text in CRD_FILES.items()]
    sandbox.write_lock(
        charts=[sandbox.entry("demo", "1.0.0", "charts/demo-1.0.0", repository=CHART_REPOSITORY),
                sandbox.entry("demo-oci", "1.0.0", "charts/demo-1.0.0", repository="oci://registry.example.com/charts/demo-oci")],
        crds=[sandbox.entry("demo", "1.0.0", "crds/demo-1.0.0", files=crd_files)],
        releases=[sandbox.entry("demo-releases", "v1", "releases/demo-releases.json")],
    )
    return sandbox


def test_helm_pull_arguments_for_a_repository_and_for_an_oci_reference(lock_with_urls, tmp_path):
    assert upstream_fetch.helm_pull_args(upstream.pinned("chart", "demo", "1.0.0"), tmp_path) == [
        "pull", "demo", "--repo", CHART_REPOSITORY, "--version", "1.0.0", "--untar", "--untardir", str(tmp_path)]
    assert upstream_fetch.helm_pull_args(upstream.pinned("chart", "demo-oci", "1.0.0"), tmp_path) == [
        "pull", "oci://registry.example.com/charts/demo-oci", "--version", "1.0.0", "--untar", "--untardir", str(tmp_path)]


def test_a_chart_is_pulled_checked_and_moved_into_the_cache(lock_with_urls):
    helm = FakeHelm()
    path = upstream_fetch.fetch(upstream.pinned("chart", "demo", "1.0.0"), helm=helm, get=refuse)
    assert path == lock_with_urls.cache / "charts" / "demo-1.0.0"
    assert upstream.is_cached(upstream.pinned("chart", "demo", "1.0.0"))
    assert helm.calls[0][:2] == ["pull", "demo"]
    assert sorted(p.name for p in lock_with_urls.cache.iterdir()) == ["charts"]  # no download folder left behind


def test_a_chart_already_in_the_cache_is_not_pulled_again(lock_with_urls):
    upstream.chart_dir("demo", "1.0.0")  # seeded from the shared folder
    upstream_fetch.fetch(upstream.pinned("chart", "demo", "1.0.0"), helm=refuse, get=refuse)


def test_a_pulled_chart_that_differs_from_the_lock_never_reaches_the_cache(lock_with_urls):
    cached = write_files(lock_with_urls.cache / "charts" / "demo-1.0.0", {"values.yaml": "previous\n"})
    tampered = FakeHelm({**CHART_FILES, "values.yaml": "replicas: 99\n"})
    artifact = upstream.pinned("chart", "demo", "1.0.0")
    with pytest.raises(upstream.UpstreamError) as raised:
        upstream_fetch.fetch(artifact, helm=tampered, get=refuse)
    message = str(raised.value)
    assert message.startswith("chart demo 1.0.0: ")
    assert f"pins {artifact.sha256}" in message
    actual = message.split(" has sha256 ")[1].split(",")[0]
    assert len(actual) == 64 and actual != artifact.sha256
    assert (cached / "values.yaml").read_text() == "previous\n"
    assert sorted(p.name for p in lock_with_urls.cache.iterdir()) == ["charts"]


def test_helm_leaving_no_single_chart_folder_is_an_error(lock_with_urls):
    with pytest.raises(upstream.UpstreamError, match="helm pull left \\[\\] in .*expected one chart folder"):
        upstream_fetch.fetch(upstream.pinned("chart", "demo", "1.0.0"), helm=lambda args: None, get=refuse)


def test_crds_are_downloaded_file_by_file_and_checked(lock_with_urls):
    urls = []

    def get(url: str) -> bytes:
        urls.append(url)
        return CRD_FILES["demo.example.com_widgets.yaml"].encode()

    path = upstream_fetch.fetch(upstream.pinned("crds", "demo", "1.0.0"), helm=refuse, get=get)
    assert urls == [CRD_URL]
    assert (path / "demo.example.com_widgets.yaml").read_text() == CRD_FILES["demo.example.com_widgets.yaml"]


def test_a_crd_file_with_another_digest_names_the_url_and_both_digests(lock_with_urls):
    pinned = hashlib.sha256(CRD_FILES["demo.example.com_widgets.yaml"].encode()).hexdigest()
    changed = b"kind: CustomResourceDefinition\nchanged: true\n"
    with pytest.raises(upstream.UpstreamError) as raised:
        upstream_fetch.fetch(upstream.pinned("crds", "demo", "1.0.0"), helm=refuse, get=lambda url: changed)
    assert str(raised.value) == (f"crds demo 1.0.0: {CRD_URL} has sha256 {hashlib.sha256(changed).hexdigest()}, "
                                 f"upstream.lock.json pins {pinned}")
    assert not (lock_with_urls.cache / "crds").exists()


def test_a_failed_download_is_one_line_naming_the_url(lock_with_urls):
    def offline(url: str) -> bytes:
        raise OSError("Name or service not known")

    with pytest.raises(upstream.UpstreamError, match=f"crds demo 1.0.0: cannot download {CRD_URL}: Name or service not known"):
        upstream_fetch.fetch(upstream.pinned("crds", "demo", "1.0.0"), helm=refuse, get=offline)


def test_a_release_list_comes_only_from_the_shared_folder(lock_with_urls):
    artifact = upstream.pinned("releases", "demo-releases")
    assert upstream_fetch.fetch(artifact, helm=refuse, get=refuse).read_text() == '{"releases": ["v1"]}\n'
    (lock_with_urls.cache / artifact.path).unlink()
    (lock_with_urls.shared / artifact.path).unlink()
    with pytest.raises(upstream.UpstreamError, match="cannot be rebuilt byte for byte from upstream: take releases/demo-releases.json from the shared folder"):
        upstream_fetch.fetch(artifact, helm=refuse, get=refuse)


def test_main_fetches_everything_and_reports_each_failure_on_one_line(lock_with_urls, monkeypatch, capsys):
    shutil.rmtree(lock_with_urls.shared / "charts")
    monkeypatch.setattr(upstream_fetch, "run_helm", FakeHelm())
    monkeypatch.setattr(upstream_fetch, "download", lambda url: b"tampered\n")
    assert upstream_fetch.main([]) == 1
    out, err = capsys.readouterr()
    assert "ok chart demo 1.0.0" in out and "ok chart demo-oci 1.0.0" in out and "ok releases demo-releases v1" in out
    (line,) = err.splitlines()
    assert line.startswith(f"error: crds demo 1.0.0: {CRD_URL} has sha256 ")


def test_from_shared_seeds_the_cache_without_network(lock_with_urls, monkeypatch, capsys):
    monkeypatch.setattr(upstream_fetch, "run_helm", refuse)
    monkeypatch.setattr(upstream_fetch, "download", refuse)
    assert upstream_fetch.main(["--from-shared"]) == 0
    assert all(upstream.is_cached(artifact) for artifact in upstream.lock())
    assert capsys.readouterr().out.count("ok ") == len(upstream.lock())


def test_helm_that_is_missing_or_fails_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(upstream_fetch, "HELM", tmp_path / "helm")
    with pytest.raises(upstream.UpstreamError, match="helm is missing: run `make helm`"):
        upstream_fetch.run_helm(["version"])
    (tmp_path / "helm").write_text("#!/bin/sh\necho 'pulling' >&2\necho 'Error: chart \"demo\" version \"9.9.9\" not found' >&2\nexit 1\n")
    (tmp_path / "helm").chmod(0o755)
    with pytest.raises(upstream.UpstreamError, match='^helm pull demo: Error: chart "demo" version "9.9.9" not found$'):
        upstream_fetch.run_helm(["pull", "demo"])
