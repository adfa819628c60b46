"""``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5) on every read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioning.scim import errors
from provisioning.scim.constants import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from provisioning.scim.filter_parser import FilterSyntaxError, Path, split_path

# Returned whatever is asked (RFC 7643: id is "returned: always"; schemas
# identify the document). Entra's legacy lookup asks attributes=id.
_ALWAYS = frozenset({"id", "schemas"})


def _parse_list(raw: Any) -> list[Path]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, str):
        raise errors.bad_request("attributes and excludedAttributes are comma-separated attribute names.")
    paths = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            paths.append(split_path(part))
        except FilterSyntaxError as exc:
            raise errors.bad_request(f"Invalid attribute name {part!r}: {exc}") from None
    return paths


def _key(container: dict, name: str) -> str | None:
    lowered = name.lower()
    return next((k for k in container if k.lower() == lowered), None)


@dataclass(frozen=True)
class Projection:
    kind: str
    include: tuple[Path, ...] = ()
    exclude: tuple[Path, ...] = ()

    @classmethod
    def from_params(cls, kind: str, attributes: Any, excluded: Any) -> Projection:
        return cls(kind, tuple(_parse_list(attributes)), tuple(_parse_list(excluded)))

    def _names(self, paths: tuple[Path, ...]) -> set[str]:
        return {p.attr.lower() for p in paths}

    def wants(self, attr: str) -> bool:
        """Whether the (expensive) top-level or extension attribute will be returned."""
        attr = attr.lower()
        if self.include:
            return attr in self._names(self.include) or any(
                p.uri == ENTERPRISE_SCHEMA and not p.attr for p in self.include
            )
        return not any(p.attr.lower() == attr and not p.sub for p in self.exclude)

    def apply(self, doc: dict) -> dict:
        if self.include:
            return self._include(doc)
        if self.exclude:
            return self._exclude(doc)
        return doc

    @staticmethod
    def whole_extension(doc: dict, path: Path) -> str | None:
        """The key of the extension object ``path`` names as a whole: a known URN parses as
        (uri, ""), a custom one (``urn:…:2.0:User``) as (``urn:…:2.0``, ``User``)."""
        if not path.uri:
            return None
        if not path.attr:
            return _key(doc, path.uri)
        if path.sub:
            return None
        key = _key(doc, f"{path.uri}:{path.attr}")
        return key if key is not None and isinstance(doc[key], dict) else None

    def _container(self, doc: dict, path: Path) -> dict | None:
        if path.uri in (None, USER_SCHEMA, GROUP_SCHEMA):
            return doc
        key = _key(doc, path.uri)
        value = doc.get(key) if key else None
        return value if isinstance(value, dict) else None

    def _include(self, doc: dict) -> dict:
        result: dict[str, Any] = {k: v for k, v in doc.items() if k in _ALWAYS}
        for path in self.include:
            whole = self.whole_extension(doc, path)
            if whole or (path.uri and not path.attr):  # the whole extension (present or not)
                if whole:
                    result[whole] = doc[whole]
                continue
            source = self._container(doc, path)
            if source is None:
                continue
            key = _key(source, path.attr)
            if key is None:
                continue
            target = result if source is doc else result.setdefault(path.uri, {})
            value = source[key]
            if path.sub:
                sub_value = self._sub(value, path.sub)
                if sub_value is None:
                    continue
                existing = target.get(key)
                if isinstance(sub_value, dict) and isinstance(existing, dict):
                    existing.update(sub_value)
                elif isinstance(sub_value, list) and isinstance(existing, list) and len(existing) == len(sub_value):
                    for a, b in zip(existing, sub_value, strict=True):
                        a.update(b)
                else:
                    target[key] = sub_value
            else:
                target[key] = value
        return result

    @staticmethod
    def _sub(value: Any, sub: str) -> Any:
        if isinstance(value, dict):
            key = _key(value, sub)
            return {key: value[key]} if key else None
        if isinstance(value, list):
            items = []
            for element in value:
                if isinstance(element, dict):
                    key = _key(element, sub)
                    items.append({key: element[key]} if key else {})
            return items
        return None

    def _exclude(self, doc: dict) -> dict:
        result = dict(doc)
        for path in self.exclude:
            if path.attr.lower() in _ALWAYS and not path.uri:
                continue
            whole = self.whole_extension(result, path)
            if whole or (path.uri and not path.attr):  # the whole extension (present or not)
                if whole:
                    result.pop(whole)
                continue
            source = self._container(result, path)
            if source is None:
                continue
            if source is not result:  # copy the extension before editing it
                source = dict(source)
                result[_key(result, path.uri or "") or path.uri] = source
            key = _key(source, path.attr)
            if key is None:
                continue
            if not path.sub:
                source.pop(key)
                continue
            value = source[key]
            if isinstance(value, dict):
                source[key] = {k: v for k, v in value.items() if k.lower() != path.sub.lower()}
            elif isinstance(value, list):
                source[key] = [
                    {k: v for k, v in e.items() if k.lower() != path.sub.lower()} if isinstance(e, dict) else e
                    for e in value
                ]
        return result
