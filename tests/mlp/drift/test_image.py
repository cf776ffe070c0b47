"""The drift image ships exactly what `python -m mlp.drift` needs: its listed sources and locked packages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from mlp import PROJECT_ROOT
from tests.mlp.drift.synthetic import FEATURES, baseline_csv, capture_jsonl, sample

IMAGE = PROJECT_ROOT / "images" / "drift"

PROBE = """
import json, runpy, sys
sys.path.insert(0, sys.argv[1])
sys.argv = ["mlp.drift", *sys.argv[2:]]
try:
    runpy.run_module("mlp.drift", run_name="__main__")
except SystemExit as done:
    code = done.code
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("pulumi", "pulumi_aws", "components", "rich", "pydantic"))
outside = sorted(name for name, module in sys.modules.items()
                 if name.startswith("mlp") and not str(getattr(module, "__file__", "") or "").startswith(sys.path[0]))
print(json.dumps({"code": code, "loaded": loaded, "outside": outside}), file=sys.stderr)
"""


def _image_tree(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    for source in yaml.safe_load((IMAGE / "image.yaml").read_text())["sources"]:
        path = PROJECT_ROOT / source
        target = root / source
        if path.is_dir():
            shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return root


def test_the_listed_sources_run_a_drift_job_without_the_rest_of_mlp(tmp_path):
    root = _image_tree(tmp_path)
    rng = np.random.default_rng(3)
    (tmp_path / "captures").mkdir()
    (tmp_path / "captures" / "part.jsonl").write_text(capture_jsonl(sample(rng, 300, price_shift=4.0)))
    (tmp_path / "baseline.csv").write_text(baseline_csv(sample(rng, 1000)))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(root), "--endpoint", "e", "--captures", str(tmp_path / "captures"),
         "--baseline", str(tmp_path / "baseline.csv"), "--features", ",".join(FEATURES), "--no-publish"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    probe = json.loads(done.stderr.strip().splitlines()[-1])
    assert probe["code"] == 0, done.stderr
    assert probe["loaded"] == []  # no Pulumi, no components, no rich: the image has none of them
    assert probe["outside"] == []  # every mlp module came from the image's sources
    assert json.loads(done.stdout)["driftedFeatures"] == ["price"]


def test_the_dockerfile_copies_the_listed_sources_and_runs_the_drift_entry_point():
    dockerfile = (IMAGE / "Dockerfile").read_text()
    sources = yaml.safe_load((IMAGE / "image.yaml").read_text())["sources"]
    copied = " ".join(line for line in dockerfile.splitlines() if line.startswith("COPY mlp"))
    assert all(source in copied for source in sources)
    assert 'ENTRYPOINT ["python", "-m", "mlp.drift"]' in dockerfile


def test_the_lock_pins_what_the_drift_command_imports():
    lock = (IMAGE / "requirements.lock").read_text()
    for package in ("boto3", "numpy", "scipy", "pyyaml"):
        assert f"\n{package}==" in f"\n{lock}"
