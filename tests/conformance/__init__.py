"""Upstream conformance: what the stacks ask of real charts and real controllers, checked offline.

Pulumi's mocks record a Helm release's chart, version and values but accept anything. These tests
give the recorded values to the real chart at the version `upstream.lock.json` pins and look at
what Helm renders:

- `render.py` renders every `kubernetes:helm.sh/v3:Release` of a stack once per session with
  `.tools/helm template` (Helm v3.17.2) from the digest-checked chart in `.cache/upstream/`, and
  holds the checks other conformance tests share (strict schema, CRD schemas, label selectors,
  checkov);
- `test_helm_render.py`: each release renders, its objects pass `kubernetes-validate --strict` at
  the stack's Kubernetes version (custom resources against the CRDs the release renders),
  workload selectors match their pod templates, Services select a workload, and checkov finds
  nothing outside a short skip list with a reason per check;
- `test_labels.py`: the cost-label contract of DESIGN.md on the objects the plan declares, in the
  label maps passed to charts, on rendered pod templates and on JupyterHub's user pods and volumes
  as KubeSpawner would label them.

Nothing here skips: a missing tool or artifact fails with the command that provides it. `make test`
installs Helm into `.tools/` and checkov into `.venv-checkov/`; the charts come from
`../shared/upstream/` (copied into the cache on first use) or `make upstream`.
"""
