"""`python -m mlp.upstream_fetch` (`make upstream`): download what `upstream.lock.json` pins into the cache.

For a machine with internet. Charts come from their Helm repository through the project's Helm
(`.tools/helm pull ... --untar`, `oci://` references pulled as they are), CRD sets from the raw URL
of each file. Every downloaded file with a digest in the lock is checked, then the whole folder
against the lock's directory digest, and only then does it replace anything in `.cache/upstream/`.
A release list is a snapshot of a changelog and its tags that cannot be rebuilt byte for byte, so
it is only ever copied from `../shared/upstream/`.

`--from-shared` fills the cache from `../shared/upstream/` alone, with no network (`make upstream-seed`).
Exit status 0 when every artifact is in the cache with its pinned digest, else 1 with one line per
artifact that is not.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Callable

from mlp import PROJECT_ROOT, upstream
from mlp.upstream import Artifact, UpstreamError

HELM = PROJECT_ROOT / ".tools" / "helm"
DOWNLOAD_TIMEOUT_SECONDS = 60
HELM_TIMEOUT_SECONDS = 300

Download = Callable[[str], bytes]
RunHelm = Callable[[list[str]], None]


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        return response.read()


def run_helm(args: list[str]) -> None:
    if not HELM.exists():
        raise UpstreamError(f"{HELM} is missing: run `make helm`")
    try:
        result = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=HELM_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise UpstreamError(f"helm {' '.join(args)}: no answer within {HELM_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise UpstreamError(f"helm {' '.join(args)}: {reason}")


def helm_pull_args(artifact: Artifact, untar_dir: Path) -> list[str]:
    """`helm pull` arguments for a chart: an `oci://` repository is the chart reference itself."""
    repository = artifact.source_field("repository")
    if not repository:
        raise UpstreamError(f"{artifact.label}: its entry in {upstream.LOCK_PATH.name} has no repository to pull from")
    chart = [repository] if repository.startswith("oci://") else [artifact.name, "--repo", repository]
    return ["pull", *chart, "--version", artifact.version, "--untar", "--untardir", str(untar_dir)]


def fetch_chart(artifact: Artifact, workdir: Path, helm: RunHelm) -> Path:
    untar_dir = workdir / "pulled"
    untar_dir.mkdir()
    helm(helm_pull_args(artifact, untar_dir))
    pulled = sorted(untar_dir.iterdir())
    if len(pulled) != 1 or not pulled[0].is_dir():
        raise UpstreamError(f"{artifact.label}: helm pull left {[p.name for p in pulled]} in {untar_dir}, expected one chart folder")
    return pulled[0]


def fetch_crds(artifact: Artifact, workdir: Path, get: Download) -> Path:
    files = artifact.source_field("files") or []
    if not files:
        raise UpstreamError(f"{artifact.label}: its entry in {upstream.LOCK_PATH.name} lists no files to download")
    folder = workdir / Path(artifact.path).name
    folder.mkdir()
    for entry in files:
        name, url = entry["name"], entry["url"]
        if Path(name).name != name:
            raise UpstreamError(f"{artifact.label}: file name {name!r} in {upstream.LOCK_PATH.name} is not a plain file name")
        try:
            content = get(url)
        except (OSError, http.client.HTTPException) as error:
            raise UpstreamError(f"{artifact.label}: cannot download {url}: {error}") from None
        actual = hashlib.sha256(content).hexdigest()
        if actual != entry["sha256"]:
            raise UpstreamError(f"{artifact.label}: {url} has sha256 {actual}, {upstream.LOCK_PATH.name} pins {entry['sha256']}")
        (folder / name).write_bytes(content)
    return folder


def shared_release_list(artifact: Artifact) -> Path:
    seed = upstream.SHARED_DIR / artifact.path
    if not seed.exists():
        raise UpstreamError(f"{artifact.label} cannot be rebuilt byte for byte from upstream: "
                            f"take {artifact.path} from the shared folder {upstream.SHARED_DIR}")
    return seed


def check_digest(artifact: Artifact, path: Path) -> None:
    actual = upstream.digest(path)
    if actual != artifact.sha256:
        raise UpstreamError(f"{artifact.label}: {path} has sha256 {actual}, {upstream.LOCK_PATH.name} pins {artifact.sha256}")


def fetch(artifact: Artifact, helm: RunHelm | None = None, get: Download | None = None) -> Path:
    """The cached copy of an artifact, downloaded first unless the cache holds it already;
    `helm` and `get` stand in for the Helm binary and the network in tests."""
    cached = upstream.CACHE_DIR / artifact.path
    if upstream.is_cached(artifact):
        return cached
    upstream.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Downloads land beside the cache so the final move stays on one file system.
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=upstream.CACHE_DIR) as temporary:
        workdir = Path(temporary)
        if artifact.kind == "chart":
            fetched = fetch_chart(artifact, workdir, helm or run_helm)
        elif artifact.kind == "crds":
            fetched = fetch_crds(artifact, workdir, get or download)
        else:
            fetched = shared_release_list(artifact)
        check_digest(artifact, fetched)
        upstream.copy_into_cache(fetched, cached)
    return cached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp.upstream_fetch", description=__doc__.splitlines()[0])
    parser.add_argument("--from-shared", action="store_true", help=f"only copy from {upstream.SHARED_DIR}, no network")
    args = parser.parse_args(argv)
    try:
        artifacts = upstream.lock()
    except UpstreamError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    failures = 0
    for artifact in artifacts:
        try:
            path = upstream.artifact_path(artifact.kind, artifact.name, artifact.version) if args.from_shared else fetch(artifact)
        except UpstreamError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        print(f"ok {artifact.label}: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
