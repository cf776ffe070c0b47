"""The HTML report: self-contained, a trend chart per team, and every figure the JSON's."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

MONEY = re.compile(r"-?\d{1,3}(?:,\d{3})*\.\d{2}|-?\d+\.\d{2}")


class Page(HTMLParser):
    """Collects every figure (`data-figure` element and its text), all text outside them,
    the charts, and any reference to something outside the page."""

    def __init__(self):
        super().__init__()
        self.figures: list[tuple[str, str]] = []
        self.loose_text: list[str] = []
        self.external: list[str] = []
        self.svgs = self.polylines = 0
        self.chart_titles: list[str] = []
        self._open: list[tuple[str, str | None, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href", "xlink:href", "action"):
            if attrs.get(name):
                self.external.append(f"{tag} {name}={attrs[name]}")
        if tag in ("script", "link", "iframe", "img", "object", "embed"):
            self.external.append(tag)
        self.svgs += tag == "svg"
        self.polylines += tag == "polyline"
        self._open.append((tag, attrs.get("data-figure"), []))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, figure, text = self._open.pop()
            if figure is not None:
                self.figures.append((figure, "".join(text)))
            elif self._open and text:
                self._open[-1][2].extend(text)
            elif text:
                self.loose_text.append("".join(text))
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._open and self._open[-1][0] == "style":
            return  # the stylesheet's numbers are no figures
        if self._open:
            self._open[-1][2].append(data)
        else:
            self.loose_text.append(data)


def _resolve(document, path: str):
    for name, index in re.findall(r"([A-Za-z]+)|\[(\d+)\]", path):
        document = document[int(index)] if index else document[name]
    return document


def test_every_figure_on_the_page_is_the_json_figure(athena_files):
    report, _, html = athena_files
    page = Page()
    page.feed(html)
    page.close()
    assert len(page.figures) > 100
    for path, text in page.figures:
        expected = _resolve(report, path)
        (shown,) = MONEY.findall(text)
        assert Decimal(shown.replace(",", "")) == Decimal(expected), path
    # No figure outside them: a number on the page that the JSON does not have would fail here.
    assert [t for t in page.loose_text if MONEY.search(t)] == []
    # What finance looks for is on it: each month, each team, the estimate beside the actual.
    paths = {path for path, _ in page.figures}
    for m, month in enumerate(report["months"]):
        for key in ("actualCost", "estimatedCost", "variance", "idleCost", "idleGpuCost", "untaggedCost", "unallocatedCost"):
            assert f"months[{m}].{key}" in paths
        for t in range(len(month["teams"])):
            assert f"months[{m}].teams[{t}].actualCost" in paths
            # An estimate is shown wherever the JSON has one ("-" where `mlp cost` priced nothing of the team's).
            assert (f"months[{m}].teams[{t}].estimatedCost" in paths) == (month["teams"][t]["estimatedCost"] is not None)
        for k in range(len(month["teamComponents"])):
            assert f"months[{m}].teamComponents[{k}].actualCost" in paths
        assert f"({month['status']})" in html


def test_the_page_opens_without_a_network_and_charts_each_team(athena_files):
    report, _, html = athena_files
    page = Page()
    page.feed(html)
    assert page.external == []
    teams = {t["team"] for month in report["months"] for t in month["teams"]}
    assert page.svgs == len(teams) and page.polylines >= len(teams)  # actual and estimate lines over two months
    assert html.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in html
