"""Images as code: every image a stack runs from a platform repository is built here, from a spec and
a lock that agree, on a base pinned by digest; and the catalog's tags, change detection and lock
checks catch what they exist to catch."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.config import ImageRef, PlatformConfig
from components.config.notebooks import NotebookProfileConfig
from images import catalog
from mlp import PROJECT_ROOT
from mlp.stackfile import load_stack
from tests.conftest import STACKS

IMAGES = catalog.load()
DIGEST_FROM = re.compile(r"^FROM\s+(\S+)", re.M)
PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")
# The Ray every Ray cluster runs (docs/examples RayJobs pin rayVersion to it).
RAY_EXAMPLES = sorted((PROJECT_ROOT / "docs" / "examples").glob("ray-*.yaml"))


def _walk(value, path: str):
    """(config path, ImageRef or notebook profile) of everything image-like in a parsed config."""
    if isinstance(value, (ImageRef, NotebookProfileConfig)):
        yield path, value
        if isinstance(value, ImageRef):
            return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _walk(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def platform_image_references(config: PlatformConfig) -> list[tuple[str, str, str | None, str | None]]:
    """(where, repository, tag, digest) of every image the stack pulls from a platform repository."""
    found = []
    for where, item in _walk(config, "config"):
        if isinstance(item, NotebookProfileConfig):
            if item.repository is not None:
                found.append((where, item.repository, item.tag, None))
        elif item.repository is not None:
            found.append((where, item.repository, item.tag, item.digest))
    return found


def _config(stack: str) -> PlatformConfig:
    return load_stack(stack)[1]


@pytest.mark.parametrize("stack", STACKS)
def test_every_platform_image_a_stack_runs_is_built_here_with_a_lock(stack):
    references = platform_image_references(_config(stack))
    # The stacks run notebooks, serving and the GPU agent from platform repositories: an empty list
    # would mean the walk missed them, not that all is well.
    assert {repository for _, repository, _, _ in references} >= {"notebook", "rstudio", "serving", "gpu-agent"}
    for where, repository, tag, digest in references:
        assert digest is None, f"{stack}: {where} pins {repository}@{digest}; platform images are referenced by the tag their build published"
        image = catalog.image_for_tag(IMAGES, repository, tag)
        assert image is not None, (
            f"{stack}: {where} is {repository}:{tag}, a tag no image directory publishes "
            f"(expected one of {', '.join(i.tag_prefix + '-<commit7>' for i in IMAGES if i.repository == repository) or 'none: add images/<name>/'})"
        )
        assert image.lock_path.exists() and image.dockerfile_path.exists() and image.spec_path.exists(), image.name


def _at_commit(commit: str, path: str) -> str | None:
    """A file's text at a commit of this repository, or None when the commit or file is not there."""
    done = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    return done.stdout if done.returncode == 0 else None


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_tag_names_a_commit_that_holds_the_images_sources(stack):
    """`<version>[-<variant>]-<commit7>` names a build of a commit of this repository: the commit is
    in its history and holds the image's directory at exactly the tag's version: what the workflow
    built from that commit, so the tag exists once the release step has run."""
    done = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, "the tags are checked against git history: run the tests in a clone of the repository"
    for where, repository, tag, _ in platform_image_references(_config(stack)):
        image = catalog.image_for_tag(IMAGES, repository, tag)
        assert image is not None, f"{stack}: {where}: {repository}:{tag}"
        commit = tag.rpartition("-")[2]
        manifest = _at_commit(commit, f"images/{image.name}/{catalog.MANIFEST}")
        assert manifest is not None, f"{stack}: {where}: {repository}:{tag} names commit {commit}, which has no images/{image.name} in this repository's history"
        declared = yaml.safe_load(manifest)
        assert declared["repository"] == repository and declared.get("variant") == image.variant, f"{stack}: {where}: {commit}: {declared}"
        version = tag[: -len(commit) - 1].removesuffix(f"-{image.variant}" if image.variant else "")
        assert version == str(declared["version"]), (
            f"{stack}: {where}: {repository}:{tag} was never built: images/{image.name} is at {declared['version']} in {commit}"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_every_image_publishes_to_a_repository_each_stack_declares(stack):
    repositories = set(_config(stack).registries.repository_names)
    for image in IMAGES:
        assert image.repository in repositories, f"images/{image.name} publishes to {image.repository!r}, which {stack} does not declare"


@pytest.mark.parametrize("image", IMAGES, ids=lambda image: image.name)
def test_lock_is_consistent_with_the_spec(image):
    assert catalog.lock_problems(image) == []


@pytest.mark.parametrize("image", IMAGES, ids=lambda image: image.name)
def test_dockerfile_installs_the_lock_hash_checked_on_a_base_pinned_by_digest(image):
    dockerfile = image.dockerfile_path.read_text()
    bases = DIGEST_FROM.findall(dockerfile)
    assert bases, f"{image.dockerfile_path}: no FROM"
    for base in bases:
        assert PINNED.search(base), f"images/{image.name}/Dockerfile: FROM {base} is not pinned by digest (@sha256:<64 hex>)"
    lock = f"images/{image.name}/{catalog.LOCK}"
    assert f"COPY {lock} " in dockerfile, f"images/{image.name}/Dockerfile must install its own lock ({lock})"
    install = [line for line in dockerfile.replace("\\\n", " ").splitlines() if "pip install" in line]
    assert install and all("--require-hashes" in line and "--no-deps" in line for line in install), install
    # Nothing a build installs from PyPI escapes the lock, and no credential is baked in.
    assert not re.search(r"pip install (?!.*-r /tmp/requirements\.lock)", dockerfile.replace("\\\n", " "))
    assert not re.search(r"(?i)(aws_secret_access_key|GIT_TOKEN|password\s*=)", dockerfile)


def test_notebook_images_carry_the_tools_teams_expect():
    for name in ("notebook", "notebook-cuda", "rstudio"):
        pins = catalog.lock_pins(catalog.find(IMAGES, name).lock_path)
        for tool in ("jupyterhub", "jupyterlab", "jupyterlab-git", "nbdime", "mlflow-skinny", "sagemaker-mlflow", "boto3"):
            assert tool in pins, f"images/{name} lacks {tool}"
    for name in ("notebook", "notebook-cuda"):
        assert "ray" in catalog.lock_pins(catalog.find(IMAGES, name).lock_path)
    assert "torch" in catalog.lock_pins(catalog.find(IMAGES, "notebook-cuda").lock_path)
    assert "jupyter-rsession-proxy" in catalog.lock_pins(catalog.find(IMAGES, "rstudio").lock_path)


def test_notebooks_ray_client_is_the_clusters_ray():
    """A Ray client connects only to a cluster of its own Ray version; the cluster runs images/training."""
    versions = {name: catalog.lock_pins(catalog.find(IMAGES, name).lock_path)["ray"].version
                for name in ("notebook", "notebook-cuda", "training", "training-cuda")}
    assert len(set(versions.values())) == 1, versions
    assert RAY_EXAMPLES
    for example in RAY_EXAMPLES:
        declared = re.findall(r'rayVersion:\s*"?([0-9.]+)"?', example.read_text())
        assert declared and set(declared) == set(versions.values()), f"{example.name} runs Ray {declared}, the images {versions}"


def test_the_single_user_server_matches_the_hubs_major_version():
    chart = (PROJECT_ROOT.parent / "shared" / "upstream" / "charts" / "jupyterhub-4.4.0" / "Chart.yaml")
    if not chart.exists():
        chart = PROJECT_ROOT / ".cache" / "upstream" / "charts" / "jupyterhub-4.4.0" / "Chart.yaml"
    app_version = re.search(r"^appVersion:\s*\"?([0-9.]+)", chart.read_text(), re.M).group(1)
    for name in ("notebook", "notebook-cuda", "rstudio"):
        pinned = catalog.lock_pins(catalog.find(IMAGES, name).lock_path)["jupyterhub"].version
        assert pinned.split(".")[0] == app_version.split(".")[0], f"images/{name} runs jupyterhub {pinned}, the hub {app_version}"


# --- the catalog's own behaviour ----------------------------------------------------------------

def test_tags_are_version_variant_and_short_commit():
    cuda = catalog.find(IMAGES, "notebook-cuda")
    assert cuda.tag("1a2b3c4d5e6f") == f"{cuda.version}-cuda12-1a2b3c4"
    assert cuda.produces(f"{cuda.version}-cuda12-1a2b3c4")
    assert not cuda.produces(f"{cuda.version}-1a2b3c4")
    plain = catalog.find(IMAGES, "notebook")
    assert catalog.image_for_tag(IMAGES, "notebook", f"{plain.version}-1a2b3c4") is plain
    assert catalog.image_for_tag(IMAGES, "notebook", f"{plain.version}-cuda12-1a2b3c4") is cuda
    assert catalog.image_for_tag(IMAGES, "notebook", plain.version) is None  # a tag without the commit no build publishes
    # An earlier release stays referable (the stable side of a canary); a later one is not built yet.
    assert catalog.image_for_tag(IMAGES, "notebook", "2019.1.0-1a2b3c4") is plain
    assert catalog.image_for_tag(IMAGES, "notebook", "2099.1.0-1a2b3c4") is None
    assert catalog.image_for_tag(IMAGES, "notebook", f"{plain.version}-gpu-1a2b3c4") is None  # no such variant
    with pytest.raises(catalog.ImageError):
        plain.tag("HEAD")


def test_changed_files_select_the_images_to_rebuild():
    assert catalog.changed_images(IMAGES, ["images/notebook/requirements.in"]) == ["notebook", "notebook-cuda"]
    assert catalog.changed_images(IMAGES, ["mlp/gpu_agent.py"]) == ["gpu-agent"]
    assert catalog.changed_images(IMAGES, ["images/serving/serve.py"]) == ["serving", "serving-gpu"]
    assert catalog.changed_images(IMAGES, ["components/cluster.py", "README.md"]) == []
    # A folder a manifest lists covers every file in it.
    listing = [i for i in IMAGES if any((catalog.REPOSITORY_ROOT / s).is_dir() for s in i.sources)]
    for image in listing:
        folder = next(s for s in image.sources if (catalog.REPOSITORY_ROOT / s).is_dir()).rstrip("/")
        inside = next(str(p.relative_to(catalog.REPOSITORY_ROOT)) for p in sorted((catalog.REPOSITORY_ROOT / folder).rglob("*.py")))
        assert image.name in catalog.changed_images(IMAGES, [inside])


def _write_image(root: Path, spec: str, lock: str) -> catalog.Image:
    directory = root / "demo"
    directory.mkdir()
    (directory / "image.yaml").write_text("repository: notebook\nversion: 1.0.0\n")
    (directory / "requirements.in").write_text(spec)
    (directory / "requirements.lock").write_text(lock)
    image = catalog.Image("demo", directory, "notebook", "1.0.0", None, "3.11", "", ())
    return image


H = "--hash=sha256:" + "a" * 64


def test_lock_check_catches_a_missing_pin_a_stale_version_and_a_missing_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "REPOSITORY_ROOT", tmp_path)
    image = _write_image(tmp_path, "boto3>=1.40,<2\nnumpy>=2.1\nrequests\n", f"boto3==1.39.0 \\\n    {H}\nnumpy==2.2.0\n")
    problems = "\n".join(catalog.lock_problems(image))
    assert "boto3==1.39.0 does not satisfy boto3<2,>=1.40" in problems
    assert "numpy==2.2.0 has no sha256 hash" in problems
    assert "requests (required by requirements.in) is not pinned" in problems


def test_lock_check_follows_spec_includes_and_accepts_a_consistent_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "REPOSITORY_ROOT", tmp_path)
    (tmp_path / "base.in").write_text("ray[client]==2.49.0  # the cluster's\n")
    image = _write_image(tmp_path, "-r ../base.in\ntorch>=2.8,<2.9\n", f"ray==2.49.0 \\\n    {H}\n    # via -r base.in\ntorch==2.8.0 \\\n    {H}\n")
    assert catalog.lock_problems(image) == []
    (image.lock_path).write_text(f"torch==2.8.0 \\\n    {H}\n")
    assert catalog.lock_problems(image) == ["demo/requirements.lock: ray (required by requirements.in) is not pinned"]


def test_a_manifest_with_an_unknown_key_or_bad_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "REPOSITORY_ROOT", tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "image.yaml").write_text("repository: notebook\nversion: 1.0.0\ntag: latest\n")
    with pytest.raises(catalog.ImageError, match="unknown key 'tag'"):
        catalog.load(tmp_path)
    (tmp_path / "bad" / "image.yaml").write_text("repository: notebook\nversion: latest\n")
    with pytest.raises(catalog.ImageError, match="version must be"):
        catalog.load(tmp_path)


def test_two_directories_publishing_the_same_tags_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "REPOSITORY_ROOT", tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "image.yaml").write_text("repository: notebook\nversion: 1.0.0\n")
    with pytest.raises(catalog.ImageError, match="both publish notebook:1.0.0"):
        catalog.load(tmp_path)


def test_command_line_gives_the_workflow_its_matrix_and_tags():
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "images.catalog", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, input=stdin)

    listed = json.loads(run("list").stdout)
    assert {entry["name"] for entry in listed} == {image.name for image in IMAGES}
    assert json.loads(run("changed", stdin="images/training/requirements.in\n").stdout) == ["training", "training-cuda"]
    assert run("tag", "serving-gpu", "0123456789abcdef").stdout.strip() == f"{catalog.find(IMAGES, 'serving-gpu').version}-gpu-0123456"
    bad = run("tag", "nope", "0123456")
    assert bad.returncode == 2 and bad.stderr.strip() == "images: images/nope/image.yaml does not exist"
    command = run("lock-command", "rstudio").stdout.split()
    assert command[:3] == ["uv", "pip", "compile"] and "--generate-hashes" in command
    assert command[command.index("--python-version") + 1] == "3.12"
    assert command[command.index("--python-platform") + 1] == "x86_64-manylinux_2_28"
