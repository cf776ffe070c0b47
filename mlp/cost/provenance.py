"""Where each price came from and when, and whether anyone checked it against a source.

A catalogue file (mlp/data/prices/<region>.json) carries a `provenance` section: named sources
(what, as of when, verified or not, checked against what) and which source each entry comes
from, by dotted path prefix (`eks`, `s3.STANDARD.gbMonthTiers`, `ec2.instances.g5.xlarge`; the
longest prefix wins; `default` covers the rest). An entry from an unverified source is shown as
unverified wherever it prices a line.

`mlp prices refresh` rewrites prices from the AWS Price List API and moves the catalogue's
`asOf`: the records then describe an older catalogue. Entries the refresh covers (and did not
list under `notRefreshed`) are then read as coming from the API on the new date, which is
AWS's own figure; everything else keeps its record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlp.prices import PRICE_SPECS, Catalogue

# What `mlp prices refresh` re-prices: its specs, every instance type and SageMaker hosting price.
_REFRESHED = frozenset(".".join(spec.path) for spec in PRICE_SPECS)
_REFRESHED_PREFIXES = ("ec2.instances.", "sagemaker.hostingInstances.")


@dataclass(frozen=True)
class Source:
    source: str
    as_of: str
    verified: bool
    checked: str = ""  # what it was checked against, and when

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"source": self.source, "asOf": self.as_of or None, "verified": self.verified}
        if self.checked:
            entry["checked"] = self.checked
        return entry


UNKNOWN = Source("no provenance recorded for this entry", "", False)


class Provenance:
    """The sources of one catalogue's entries."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        section = catalogue.section("provenance") or {}
        section = section if isinstance(section, dict) else {}
        sources = section.get("sources") if isinstance(section.get("sources"), dict) else {}
        self._sources = {name: Source(str(s.get("source", "")), str(s.get("asOf", "")), bool(s.get("verified")), str(s.get("checked", "")))
                         for name, s in sources.items() if isinstance(s, dict)}
        self._default = self._sources.get(str(section.get("default")), UNKNOWN)
        entries = section.get("entries") if isinstance(section.get("entries"), dict) else {}
        self._entries = {str(prefix): self._sources.get(str(name), UNKNOWN) for prefix, name in entries.items()}
        self._refreshed = bool(catalogue.as_of) and str(section.get("catalogueAsOf", catalogue.as_of)) != catalogue.as_of
        self._not_refreshed = set(catalogue.section("notRefreshed") or [])
        self._cache: dict[str, Source] = {}
        self._verified: dict[tuple[str, ...], bool] = {}

    def of(self, ref: str) -> Source:
        found = self._cache.get(ref)
        if found is None:
            found = self._cache[ref] = self._lookup(ref)
        return found

    def _lookup(self, ref: str) -> Source:
        if self._refreshed and ref not in self._not_refreshed and (ref in _REFRESHED or ref.startswith(_REFRESHED_PREFIXES)):
            path = ref.rsplit(".hourly", 1)[0] if ref.startswith("ec2.instances.") else ref
            if path not in self._not_refreshed:
                return Source(self.catalogue.source, self.catalogue.as_of, True, "fetched from the AWS Price List API")
        best, best_length = self._default, -1
        for prefix, source in self._entries.items():
            if (ref == prefix or ref.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = source, len(prefix)
        return best

    def verified(self, refs: tuple[str, ...]) -> bool:
        """A line is verified when every entry its price comes from is (a line with no catalogue
        entry behind it is not)."""
        found = self._verified.get(refs)
        if found is None:
            found = self._verified[refs] = bool(refs) and all(self.of(ref).verified for ref in refs)
        return found
