"""XML helpers shared by the OAI-PMH, RSS and API readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from papersift.records import clean_whitespace
from papersift.sources.dump import to_day

__all__ = ["ARXIV", "ATOM", "DC", "OAI", "MalformedXML", "parse_xml", "q", "text", "texts",
           "to_day"]

OAI = "http://www.openarchives.org/OAI/2.0/"
ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"  # arxiv: elements of the RSS feed and the API
DC = "http://purl.org/dc/elements/1.1/"


class MalformedXML(ValueError):
    """A body that is not the XML we asked for: usually a connection cut mid-response."""


def parse_xml(body: bytes, root: str) -> ET.Element:
    """Parse `body` and check its root element is `root` ("{namespace}name" or "name")."""
    try:
        tree = ET.fromstring(body)
    except ET.ParseError as e:
        raise MalformedXML(f"not well-formed XML ({e})") from None
    if tree.tag != root:
        raise MalformedXML(f"expected <{root}>, got <{tree.tag}>")
    return tree


def q(ns: str, name: str) -> str:
    """Clark notation: q(ATOM, "entry") == "{http://www.w3.org/2005/Atom}entry"."""
    return f"{{{ns}}}{name}"


def text(el: ET.Element, path: str) -> str | None:
    """Whitespace-cleaned text of the first `path` under `el`, or None when absent or empty."""
    found = el.find(path)
    return (clean_whitespace(found.text) or None) if found is not None else None


def texts(el: ET.Element, path: str) -> list[str]:
    return [t for f in el.findall(path) if (t := clean_whitespace(f.text))]
