"""Where each price came from and when: every catalogue entry has a source, checked entries say
against what, unchecked ones are shown as unverified, and a refresh makes its entries the API's."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

from mlp.cost import CostComponent, as_json
from mlp.cost.provenance import Provenance
from mlp.prices import CATALOGUE_DIR, Catalogue, load_catalogue
from tests.mlp.cost.documents import export, priced, resource


def leaf_paths(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaf_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(node, list):
        yield prefix
    else:
        yield prefix


def test_every_catalogue_entry_has_a_dated_source():
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        catalogue = load_catalogue(path.stem)
        provenance = Provenance(catalogue)
        document = json.loads(path.read_text())
        assert document["provenance"]["catalogueAsOf"] == document["asOf"], path.name
        for section in set(document) - {"region", "currency", "asOf", "source", "hoursPerMonth", "notRefreshed", "provenance"}:
            for ref in leaf_paths(document[section], section):
                source = provenance.of(ref)
                assert source.source and source.as_of, (path.name, ref)
                assert source.checked or not source.verified, (path.name, ref)  # a verified entry says what it was checked against


def test_checked_entries_are_verified_and_the_rest_are_not():
    provenance = Provenance(load_catalogue("us-east-1"))
    assert provenance.of("eks.extendedSupportClusterHour").verified
    assert provenance.of("vpc.natGatewayHour").verified and "basavytix.com" in provenance.of("vpc.natGatewayHour").checked
    assert provenance.of("ec2.instances.g5.xlarge.hourly").verified
    assert not provenance.of("ec2.instances.g5.2xlarge.hourly").verified
    assert not provenance.of("ec2.spotToOnDemandRatio").verified  # an assumption, not a list price
    assert not provenance.of("sagemaker.mlflowTrackingServerHour.Small").verified
    assert provenance.verified(("ec2.instances.g5.xlarge.hourly",))
    assert not provenance.verified(("ec2.instances.g5.xlarge.hourly", "ec2.spotToOnDemandRatio"))  # spot: derived from an assumption
    assert not provenance.verified(())  # a price with no catalogue entry behind it


def test_the_output_marks_each_line_and_lists_each_source():
    result = priced(export(resource("aws:eks/cluster:Cluster", "cluster"), resource("aws:ecr/repository:Repository", "images")))
    report = as_json(result)
    lines = {line["name"]: line for entry in report["resources"] for line in entry["costComponents"]}
    assert lines["EKS cluster"]["priceRefs"] == ["eks.clusterHour"] and lines["EKS cluster"]["priceVerified"] is True
    assert lines["Storage"]["priceVerified"] is False
    assert set(report["priceSources"]) == {"eks.clusterHour", "ecr.storageGbMonth"}
    assert report["priceSources"]["ecr.storageGbMonth"] == {"source": "AWS public pricing pages for us-east-1, transcribed by hand (the catalogue's own source)",
                                                            "asOf": "2025-07-01", "verified": False}
    assert report["summary"]["unverifiedPriceLines"] == 1


def test_a_refreshed_catalogue_reads_its_refreshed_entries_as_the_price_list_apis():
    document = copy.deepcopy(load_catalogue("us-east-1").data)
    document["asOf"] = "2027-01-15"
    document["source"] = "AWS Price List API (pricing.get_products, us-east-1 endpoint)"
    document["notRefreshed"] = ["ecr.storageGbMonth"]
    provenance = Provenance(Catalogue("us-east-1", "USD", document["asOf"], document["source"], document))
    assert provenance.of("kms.keyMonth").verified and provenance.of("kms.keyMonth").as_of == "2027-01-15"
    assert provenance.of("ec2.instances.g5.2xlarge.hourly").verified
    assert not provenance.of("ecr.storageGbMonth").verified  # the refresh kept the old value
    assert not provenance.of("dataTransfer.internetOutGbTiers").verified  # the refresh does not cover tier tables


def test_a_line_priced_without_the_catalogue_is_unverified():
    provenance = Provenance(load_catalogue("us-east-1"))
    assert not provenance.verified(CostComponent("x", "hours", Decimal("1"), Decimal("1")).refs)
