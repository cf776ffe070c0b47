"""Values of the shipped stack files that stand for the real ones: documentation domains,
documentation account IDs and networks, the example company. Found offline, before any AWS call."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from mlp.preflight.references import iter_strings

# Account IDs AWS documentation uses, and the reversed one this project's examples use.
EXAMPLE_ACCOUNT_IDS = ("123456789012", "111122223333", "444455556666", "210987654321", "000000000000")
_ACCOUNT = re.compile(r"(?<!\d)(" + "|".join(EXAMPLE_ACCOUNT_IDS) + r")(?!\d)")
# RFC 2606 / 6761 reserved names: never anybody's real host.
_EXAMPLE_DOMAIN = re.compile(r"(?i)(?:^|[.@/])(?:[a-z0-9-]+\.)*(?:example|test|invalid|localhost)(?=$|[/:?#])|(?:^|[.@/])example\.(?:com|net|org)(?=$|[/:?#])")
# The example company of the shipped stack files (acme-mlplatform-prod, github.com/acme/...).
_EXAMPLE_COMPANY = re.compile(r"(?i)(?<![a-z0-9])acme(?![a-z0-9])")
# RFC 5737 / RFC 3849 documentation networks.
DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))


@dataclass(frozen=True)
class Placeholder:
    key: str
    value: str
    why: str


def _documentation_network(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return any(network.version == doc.version and network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS)


def find_placeholders(config: dict) -> list[Placeholder]:
    """Every placeholder in a stack file's `config:` mapping, by key, in file order."""
    found = []
    for key, value in iter_strings(config):
        if _ACCOUNT.search(value):
            found.append(Placeholder(key, value, f"an example account ID ({_ACCOUNT.search(value).group(1)})"))
        elif _EXAMPLE_DOMAIN.search(value):
            found.append(Placeholder(key, value, "a reserved example domain"))
        elif _documentation_network(value):
            found.append(Placeholder(key, value, "a documentation network (RFC 5737/3849)"))
        elif _EXAMPLE_COMPANY.search(value):
            found.append(Placeholder(key, value, "the example company 'acme'"))
    return found
