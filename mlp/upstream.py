"""The upstream artifacts the stacks use (charts, CRDs, release lists), pinned and cached.

`upstream.lock.json` names every chart, CRD set and release list the stacks depend on, with its
source and sha256. Tests read them from a cache folder (`.cache/upstream/`, laid out like
`../shared/upstream/`): mocks accept anything, so the only proof that a value deploys is the real
chart rendering it and the real CRD accepting it. The cache is filled, in this order of preference:

1. already there with the pinned digest;
2. copied from `../shared/upstream/` (every developer's machine and CI have it), digest checked;
3. `python -m mlp.upstream_fetch` on a machine with internet (`make upstream`): `helm pull` for
   charts, the raw CRD files, each checked against the lock.

A missing or altered artifact is an error that says how to get it; nothing skips silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlp import PROJECT_ROOT

LOCK_PATH = PROJECT_ROOT / "upstream.lock.json"
CACHE_DIR = Path(os.environ.get("MLP_UPSTREAM_CACHE", PROJECT_ROOT / ".cache" / "upstream"))
SHARED_DIR = Path(os.environ.get("MLP_SHARED_UPSTREAM", PROJECT_ROOT.parent / "shared" / "upstream"))
HOW_TO_GET = (
    "put ../shared/upstream beside the checkout, or run `make upstream` on a machine with internet"
)


class UpstreamError(RuntimeError):
    """An artifact is not pinned, missing from every source, or does not match its digest."""


@dataclass(frozen=True)
class Artifact:
    kind: str  # chart | crds | releases
    name: str
    version: str
    path: str  # relative to the cache (and to ../shared/upstream)
    sha256: str
    source: tuple  # (key, json-encoded value) pairs: the lock entry's other fields

    def source_field(self, key: str):
        return next((json.loads(value) for name, value in self.source if name == key), None)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name} {self.version}"


@functools.lru_cache(maxsize=1)
def lock() -> tuple[Artifact, ...]:
    try:
        document = json.loads(LOCK_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UpstreamError(f"{LOCK_PATH.name}: cannot read the lock file: {error}") from None
    artifacts = []
    for section, kind in (("charts", "chart"), ("crds", "crds"), ("releases", "releases")):
        for entry in document.get(section, []):
            source = tuple((key, json.dumps(value)) for key, value in entry.items() if key not in ("name", "version", "path", "sha256"))
            artifacts.append(Artifact(kind, entry["name"], entry["version"], entry["path"], entry["sha256"], source))
    return tuple(artifacts)


def pinned(kind: str, name: str, version: str | None = None) -> Artifact:
    """The lock entry of an artifact; without `version`, the only one pinned under that name."""
    matches = [a for a in lock() if a.kind == kind and a.name == name and version in (None, a.version)]
    if len(matches) != 1:
        wanted = f"{kind} {name}" + (f" {version}" if version else "")
        have = ", ".join(a.version for a in lock() if a.kind == kind and a.name == name) or "none"
        raise UpstreamError(f"{LOCK_PATH.name}: {wanted} is not pinned (pinned versions: {have}); add it to the lock")
    return matches[0]


def digest(path: Path) -> str:
    """sha256 of a file, or of a directory as MANIFEST.json defines it: one line
    `<sha256 of file>  <relative path>` per file (links followed), sorted by path bytewise."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    lines = []
    for file in sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix().encode()):
        lines.append(f"{hashlib.sha256(file.read_bytes()).hexdigest()}  {file.relative_to(path).as_posix()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def is_cached(artifact: Artifact) -> bool:
    """Whether the cache already holds the artifact with its pinned digest."""
    cached = CACHE_DIR / artifact.path
    return cached.exists() and digest(cached) == artifact.sha256


@functools.lru_cache(maxsize=None)
def _ensure(artifact: Artifact) -> Path:
    cached = CACHE_DIR / artifact.path
    if is_cached(artifact):
        return cached
    seed = SHARED_DIR / artifact.path
    if not seed.exists():
        raise UpstreamError(f"{artifact.label} ({artifact.path}) is not in {CACHE_DIR}: {HOW_TO_GET}")
    if digest(seed) != artifact.sha256:
        raise UpstreamError(f"{artifact.label}: {seed} does not match the sha256 in {LOCK_PATH.name}")
    copy_into_cache(seed, cached)
    return cached


def copy_into_cache(source: Path, cached: Path) -> None:
    """Replace `cached` with a copy of `source`, never leaving a half-copied artifact behind."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = cached.with_name(cached.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, staging, symlinks=False)
    else:
        shutil.copyfile(source, staging)
    if cached.is_dir():
        shutil.rmtree(cached)
    elif cached.exists():
        cached.unlink()
    staging.rename(cached)


def artifact_path(kind: str, name: str, version: str | None = None) -> Path:
    """The cached, digest-checked copy of a pinned artifact."""
    return _ensure(pinned(kind, name, version))


def chart_dir(name: str, version: str) -> Path:
    return artifact_path("chart", name, version)


def crd_dir(name: str, version: str) -> Path:
    return artifact_path("crds", name, version)


def release_list(name: str) -> Path:
    return artifact_path("releases", name)
