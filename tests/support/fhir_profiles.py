"""A small validator of FHIR instances against the differentials of the Vietnam Core IG's
StructureDefinitions, read from the IG's own files (tests/data/fhir, see its README).

It checks what the IG's differentials state for the profiles the gateway serves: minimum and
maximum cardinalities, ``fixed[x]`` values (exact) and ``pattern[x]`` values (contained),
slices discriminated by value (their members found by the slice's fixed discriminator, e.g.
the identifier ``system``, then each member checked against the slice's elements), and the
datatype profiles an element names (vn-core-address, vn-core-dosage) applied to its values.
Type slices (``medication[x]``) and extension slices without a minimum say nothing an
instance can break here, and are skipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "fhir"
NS = {"f": "http://hl7.org/fhir"}
_Q = "{http://hl7.org/fhir}"


@dataclass
class Element:
    id: str
    path: str
    min: int | None = None
    max: str | None = None
    fixed: Any = None
    pattern: Any = None
    profiles: list[str] = field(default_factory=list)
    slicing: list[str] | None = None  # discriminator paths (type value)


def _value(node: ET.Element) -> Any:
    """A FHIR XML value (a primitive's ``value`` attribute, or a complex element) as JSON."""
    children = list(node)
    if not children:
        return node.get("value")
    out: dict[str, Any] = {}
    for child in children:
        name = child.tag.removeprefix(_Q)
        out.setdefault(name, []).append(_value(child))
    # FHIR JSON: repeating elements are lists; these are the ones that repeat in the values
    # the IG fixes (CodeableConcept.coding).
    return {name: (values if name == "coding" else values[0]) for name, values in out.items()}


@dataclass
class Profile:
    url: str
    type: str
    elements: list[Element]


@cache
def profiles() -> dict[str, Profile]:
    """Every StructureDefinition of tests/data/fhir by canonical URL."""
    found = {}
    for path in sorted(DATA.glob("StructureDefinition*.xml")):
        root = ET.parse(path).getroot()
        url = root.find("f:url", NS).get("value")
        elements = []
        for node in root.findall("f:differential/f:element", NS):
            element = Element(id=node.get("id"), path=node.find("f:path", NS).get("value"))
            for child in node:
                name = child.tag.removeprefix(_Q)
                if name == "min":
                    element.min = int(child.get("value"))
                elif name == "max":
                    element.max = child.get("value")
                elif name.startswith("fixed"):
                    element.fixed = _value(child)
                elif name.startswith("pattern"):
                    element.pattern = _value(child)
                elif name == "type":
                    element.profiles += [p.get("value") for p in child.findall("f:profile", NS)]
                elif name == "slicing":
                    element.slicing = [d.find("f:path", NS).get("value")
                                       for d in child.findall("f:discriminator", NS)
                                       if d.find("f:type", NS).get("value") == "value"]
            elements.append(element)
        found[url] = Profile(url, root.find("f:type", NS).get("value"), elements)
    return found


def _children(values: list[Any], name: str) -> list[Any]:
    out = []
    for value in values:
        if not isinstance(value, dict):
            continue
        if name.endswith("[x]"):
            stem = name[:-3]
            hits = [v for key, v in value.items() if key.startswith(stem)]
        else:
            hits = [value[name]] if name in value else []
        for hit in hits:
            out.extend(hit if isinstance(hit, list) else [hit])
    return out


def _contains(instance: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(instance, dict) and all(
            key in instance and _contains(instance[key], value) for key, value in pattern.items())
    if isinstance(pattern, list):
        return isinstance(instance, list) and all(
            any(_contains(item, wanted) for item in instance) for wanted in pattern)
    return str(instance).lower() == pattern.lower() if isinstance(instance, bool) else instance == pattern


def _segments(element_id: str, root: str) -> list[tuple[str, str | None]]:
    """``Patient.identifier:TheCCCD.system`` → [("identifier", "TheCCCD"), ("system", None)]."""
    parts = element_id.split(".")[1:] if element_id.startswith(root + ".") else []
    # an id's segments may themselves hold dots only inside slice names, which the IG has not
    return [(part.split(":")[0], part.split(":")[1] if ":" in part else None) for part in parts]


class Checker:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.by_id = {element.id: element for element in profile.elements}
        self.root = profile.type

    def members(self, parents: list[Any], segments: list[tuple[str, str | None]],
                prefix: str) -> list[Any]:
        """The values at ``segments`` below ``parents``, keeping only a slice's members."""
        values = parents
        walked = prefix
        for name, slice_name in segments:
            values = _children(values, name)
            walked = f"{walked}.{name}"
            if slice_name is not None:
                walked_slice = f"{walked}:{slice_name}"
                values = [value for value in values if self._in_slice(value, walked, walked_slice)]
                walked = walked_slice
        return values

    def _in_slice(self, value: Any, sliced: str, slice_id: str) -> bool:
        slicing = self.by_id.get(sliced)
        paths = slicing.slicing if slicing else None
        if not paths:  # type or url slices: not discriminated by value here
            return True
        for path in paths:
            element = self.by_id.get(f"{slice_id}.{path}")
            wanted = element.fixed if element else None
            if wanted is None:
                continue
            if not isinstance(value, dict) or value.get(path) != wanted:
                return False
        return True

    def problems(self, instance: dict[str, Any], where: str = "") -> list[str]:
        where = where or self.root
        found = []
        for element in self.profile.elements:
            segments = _segments(element.id, self.root)
            if not segments:
                continue
            *parent_segments, (last, slice_name) = segments
            parents = self.members([instance], parent_segments, self.root)
            parent_id = ".".join([self.root, *(f"{n}:{s}" if s else n for n, s in parent_segments)])
            for parent in parents:
                values = self.members([parent], [(last, slice_name)], parent_id)
                label = f"{where}: {element.id}"
                if element.min and len(values) < element.min:
                    found.append(f"{label}: {len(values)} < min {element.min}")
                if element.max not in (None, "*") and len(values) > int(element.max):
                    found.append(f"{label}: {len(values)} > max {element.max}")
                for value in values:
                    if element.fixed is not None and slice_name is None and not (
                            value == element.fixed or (isinstance(element.fixed, dict)
                                                       and _exact(value, element.fixed))):
                        found.append(f"{label}: {value!r} is not the fixed {element.fixed!r}")
                    if element.pattern is not None and not _contains(value, element.pattern):
                        found.append(f"{label}: {value!r} lacks the pattern {element.pattern!r}")
                    for url in element.profiles:
                        if url in profiles() and isinstance(value, dict):
                            found += Checker(profiles()[url]).problems(value, f"{label} ({url})")
        return found


def _exact(value: Any, fixed: Any) -> bool:
    """FHIR ``fixed[x]``: the instance has exactly the fixed value's elements, and no others."""
    if isinstance(fixed, dict):
        return (isinstance(value, dict) and set(value) == set(fixed)
                and all(_exact(value[k], fixed[k]) for k in fixed))
    if isinstance(fixed, list):
        return (isinstance(value, list) and len(value) == len(fixed)
                and all(_exact(a, b) for a, b in zip(value, fixed, strict=True)))
    return value == fixed


def conformance_problems(resource: dict[str, Any]) -> list[str]:
    """What ``resource`` breaks of the IG profile its ``meta.profile`` names."""
    named = (resource.get("meta") or {}).get("profile") or []
    known = [url for url in named if url in profiles()]
    if not known:
        return [f"{resource.get('resourceType')}: names no IG profile ({named})"]
    problems = []
    for url in known:
        profile = profiles()[url]
        if profile.type != resource.get("resourceType"):
            problems.append(f"{url} is a profile of {profile.type}")
        problems += Checker(profile).problems(resource)
    return problems


def empties(value: Any, path: str = "") -> list[str]:
    """Where ``value`` holds an empty array, object or string (FHIR JSON has none)."""
    if value in ([], {}, ""):
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in empties(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value)
                for found in empties(item, f"{path}[{index}]")]
    return []
