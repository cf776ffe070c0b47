"""mlp.upstream: pinned artifacts come from the cache or ../shared/upstream, digest checked, and
anything missing, altered or unpinned is an error that says what to do."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlp import upstream


@dataclass
class Sandbox:
    """A lock, a shared folder and an empty cache in a temporary directory, wired into mlp.upstream."""
    root: Path
    shared: Path
    cache: Path
    lock: Path

    def write_lock(self, charts=(), crds=(), releases=()) -> None:
        self.lock.write_text(json.dumps({"charts": list(charts), "crds": list(crds), "releases": list(releases)}))
        upstream.lock.cache_clear()
        upstream._ensure.cache_clear()

    def entry(self, name: str, version: str, path: str, **source) -> dict:
        """A lock entry whose digest is that of the shared folder's copy."""
        return {"name": name, "version": version, "path": path, "sha256": upstream.digest(self.shared / path), **source}


def write_files(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


CHART_FILES = {"Chart.yaml": "name: demo\nversion: 1.0.0\n", "templates/deployment.yaml": "kind: Deployment\n", "values.yaml": "replicas: 1\n"}
CRD_FILES = {"demo.example.com_widgets.yaml": "kind: CustomResourceDefinition\n"}
CHART_REPOSITORY = "https://charts.example.com/"


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Sandbox:
    box = Sandbox(tmp_path, tmp_path / "shared", tmp_path / "cache", tmp_path / "upstream.lock.json")
    write_files(box.shared / "charts" / "demo-1.0.0", CHART_FILES)
    write_files(box.shared / "crds" / "demo-1.0.0", CRD_FILES)
    write_files(box.shared / "releases", {"demo-releases.json": '{"releases": ["v1"]}\n'})
    monkeypatch.setattr(upstream, "CACHE_DIR", box.cache)
    monkeypatch.setattr(upstream, "SHARED_DIR", box.shared)
    monkeypatch.setattr(upstream, "LOCK_PATH", box.lock)
    box.write_lock(
        charts=[box.entry("demo", "1.0.0", "charts/demo-1.0.0", repository=CHART_REPOSITORY)],
        crds=[box.entry("demo", "1.0.0", "crds/demo-1.0.0", files=[])],
        releases=[box.entry("demo-releases", "v1", "releases/demo-releases.json")],
    )
    yield box
    # The real lock for every later test.
    upstream.lock.cache_clear()
    upstream._ensure.cache_clear()


def test_a_pinned_chart_is_copied_from_the_shared_folder_into_the_cache(sandbox):
    path = upstream.chart_dir("demo", "1.0.0")
    assert path == sandbox.cache / "charts" / "demo-1.0.0"
    assert (path / "templates" / "deployment.yaml").read_text() == "kind: Deployment\n"
    assert upstream.digest(path) == upstream.pinned("chart", "demo", "1.0.0").sha256
    assert [p.name for p in path.parent.iterdir()] == ["demo-1.0.0"]  # nothing half-copied left beside it


def test_crds_and_release_lists_are_seeded_the_same_way(sandbox):
    assert (upstream.crd_dir("demo", "1.0.0") / "demo.example.com_widgets.yaml").exists()
    assert json.loads(upstream.release_list("demo-releases").read_text()) == {"releases": ["v1"]}


def test_the_cache_serves_without_the_shared_folder(sandbox):
    upstream.chart_dir("demo", "1.0.0")
    upstream._ensure.cache_clear()
    (sandbox.shared / "charts" / "demo-1.0.0" / "values.yaml").unlink()  # the shared copy is gone or broken
    assert upstream.is_cached(upstream.pinned("chart", "demo", "1.0.0"))
    assert upstream.chart_dir("demo", "1.0.0") == sandbox.cache / "charts" / "demo-1.0.0"


def test_an_altered_cached_copy_is_replaced_from_the_shared_folder(sandbox):
    cached = upstream.chart_dir("demo", "1.0.0")
    (cached / "values.yaml").write_text("replicas: 3\n")
    (cached / "extra.yaml").write_text("kind: Secret\n")
    upstream._ensure.cache_clear()
    assert not upstream.is_cached(upstream.pinned("chart", "demo", "1.0.0"))
    upstream.chart_dir("demo", "1.0.0")
    assert (cached / "values.yaml").read_text() == "replicas: 1\n"
    assert not (cached / "extra.yaml").exists()


def test_a_shared_copy_that_does_not_match_the_lock_is_refused(sandbox):
    (sandbox.shared / "charts" / "demo-1.0.0" / "values.yaml").write_text("replicas: 3\n")
    with pytest.raises(upstream.UpstreamError, match=r"chart demo 1\.0\.0: .*demo-1\.0\.0 does not match the sha256 in upstream\.lock\.json"):
        upstream.chart_dir("demo", "1.0.0")
    assert not (sandbox.cache / "charts" / "demo-1.0.0").exists()


def test_a_version_the_lock_does_not_pin_names_the_pinned_ones():
    with pytest.raises(upstream.UpstreamError) as raised:
        upstream.chart_dir("jupyterhub", "0.0.1")
    assert str(raised.value).startswith("upstream.lock.json: chart jupyterhub 0.0.1 is not pinned (pinned versions: ")
    assert str(raised.value).endswith("; add it to the lock")


def test_an_unpinned_version_in_the_sandbox_lock(sandbox):
    with pytest.raises(upstream.UpstreamError, match=r"chart demo 9\.9\.9 is not pinned \(pinned versions: 1\.0\.0\); add it to the lock"):
        upstream.chart_dir("demo", "9.9.9")
    with pytest.raises(upstream.UpstreamError, match=r"chart other is not pinned \(pinned versions: none\)"):
        upstream.pinned("chart", "other")


def test_an_artifact_in_no_source_says_how_to_get_it(sandbox):
    (sandbox.shared / "releases" / "demo-releases.json").unlink()
    with pytest.raises(upstream.UpstreamError) as raised:
        upstream.release_list("demo-releases")
    message = str(raised.value)
    assert "releases demo-releases v1 (releases/demo-releases.json) is not in" in message
    assert "make upstream" in message and "../shared/upstream" in message


def test_an_unreadable_lock_is_an_upstream_error(sandbox):
    sandbox.lock.write_text("{not json")
    upstream.lock.cache_clear()
    with pytest.raises(upstream.UpstreamError, match="upstream.lock.json: cannot read the lock file"):
        upstream.lock()


def test_the_directory_digest_is_the_one_manifest_json_defines(sandbox):
    """`cd DIR && find -L . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum`"""
    folder = sandbox.shared / "charts" / "demo-1.0.0"
    write_files(folder, {"templates/_helpers.tpl": "{{/* */}}\n", "Z.md": "upper case sorts first\n"})
    shell = subprocess.run(
        "find -L . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum",
        shell=True, cwd=folder, capture_output=True, text=True, check=True,
    )
    assert upstream.digest(folder) == shell.stdout.split()[0]


def test_copy_into_cache_replaces_a_copy_whole_or_not_at_all(sandbox, monkeypatch):
    cached = sandbox.cache / "charts" / "demo-1.0.0"
    write_files(cached, {"old.yaml": "kind: Old\n"})
    upstream.copy_into_cache(sandbox.shared / "charts" / "demo-1.0.0", cached)
    assert sorted(p.name for p in cached.iterdir()) == ["Chart.yaml", "templates", "values.yaml"]

    def interrupted(source, destination, **_):
        write_files(Path(destination), {"Chart.yaml": "half"})
        raise OSError("disk full")

    monkeypatch.setattr(upstream.shutil, "copytree", interrupted)
    write_files(cached, {"values.yaml": "kept\n"})
    with pytest.raises(OSError, match="disk full"):
        upstream.copy_into_cache(sandbox.shared / "charts" / "demo-1.0.0", cached)
    assert (cached / "values.yaml").read_text() == "kept\n"  # the previous copy is untouched
