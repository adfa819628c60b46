"""RFC 7644 §3.5.2 PATCH, applied to a resource's SCIM state (a plain dict).

The adapter turns the stored resource into its SCIM state, this module applies
every operation to a copy, and the adapter turns the result into one service
call. Nothing is written until every operation has applied, so a PATCH is all
or nothing.
"""

from __future__ import annotations

from typing import Any

from provisioning.scim import compat, custom, errors
from provisioning.scim.constants import MAX_PATCH_OPERATIONS, ScimType
from provisioning.scim.filter_parser import Compare, FilterSyntaxError, Logical, PatchPath, Path, parse_patch_path
from provisioning.scim.filters import element_matches
from provisioning.scim.schemas import COMMON, Attr, Schema

READ_ONLY = frozenset({"id", "meta", "groups", "schemas"})


class Target:
    """Where an operation lands: the container dict, the attribute, and its schema."""

    def __init__(self, container: dict, attr: Attr, patch_path: PatchPath) -> None:
        self.container = container
        self.attr = attr
        self.path = patch_path

    @property
    def key(self) -> str:
        return self.attr.name


def _find_key(container: dict, name: str) -> str | None:
    lowered = name.lower()
    return next((k for k in container if k.lower() == lowered), None)


class PatchEngine:
    def __init__(self, schemas: dict[str | None, Schema], extension_uris: tuple[str, ...] = (),
                 custom_extensions: bool = False) -> None:
        # schemas[None] is the core schema; other keys are extension URNs.
        self.schemas = schemas
        self.extension_uris = extension_uris
        # Users keep custom extension attributes (provisioning.scim.custom); other resources ignore them.
        self.custom_extensions = custom_extensions

    # --- path resolution -------------------------------------------------------

    def resolve(self, state: dict, patch_path: PatchPath) -> Target | None:
        """None means the path names an extension we do not know: ignored (RFC 7644 §3.3)."""
        path = patch_path.path
        if path.uri and path.uri not in self.schemas and path.uri != self.core_uri:
            return self.custom_target(state, patch_path) if self.custom_extensions else None
        schema = self.schemas.get(path.uri) if path.uri and path.uri != self.core_uri else self.schemas[None]
        attr = schema.attr(path.attr)
        if attr is None and path.uri in (None, self.core_uri) and path.attr.lower() in COMMON:
            attr = COMMON[path.attr.lower()]
        if attr is None and path.uri is None:
            # A bare extension attribute name ("department") is not valid SCIM,
            # but accept it when it is unambiguous.
            for uri in self.extension_uris:
                if self.schemas[uri].attr(path.attr) is not None:
                    schema, attr = self.schemas[uri], self.schemas[uri].attr(path.attr)
                    path = Path(uri, path.attr, path.sub)
                    break
        if attr is None:
            raise errors.invalid_path(f"Unknown attribute {patch_path.path}")
        if attr.name in READ_ONLY or attr.mutability == "readOnly":
            raise errors.mutability(f"{attr.name} is read-only")
        container = state
        if path.uri and path.uri != self.core_uri:
            container = state.setdefault(path.uri, {})
        return Target(container, attr, PatchPath(path, patch_path.filter, patch_path.filter_sub))

    def custom_target(self, state: dict, patch_path: PatchPath) -> Target | None:
        """``urn:…:User:badgeNumber``: a single-valued custom attribute, kept under its extension's URN."""
        path = patch_path.path
        if not custom.is_extension_urn(path.uri):
            return None
        if path.sub or patch_path.filter is not None:
            raise errors.invalid_path(f"The custom attribute {path.uri}:{path.attr} has no sub-attributes.")
        container = state.setdefault(custom.state_key(state, path.uri or ""), {})
        return Target(container, Attr(path.attr), patch_path)

    @property
    def core_uri(self) -> str:
        return self.schemas[None].id

    # --- operations ------------------------------------------------------------

    def apply(self, state: dict, operations: Any) -> dict:
        if not isinstance(operations, list) or not operations:
            raise errors.bad_request("PATCH needs a non-empty Operations array.", ScimType.INVALID_SYNTAX)
        if len(operations) > MAX_PATCH_OPERATIONS:
            raise errors.bad_request(
                f"At most {MAX_PATCH_OPERATIONS} operations per PATCH are supported.", ScimType.TOO_MANY
            )
        state = _copied(state)  # all or nothing: the caller's state is left as it was
        for operation in operations:
            if not isinstance(operation, dict):
                raise errors.bad_request("Each operation must be an object.", ScimType.INVALID_SYNTAX)
            op_key = _find_key(operation, "op")
            op = compat.normalize_op(operation.get(op_key) if op_key else None)
            path_key = _find_key(operation, "path")
            value_key = _find_key(operation, "value")
            raw_path = operation.get(path_key) if path_key else None
            has_value = value_key is not None
            value = operation.get(value_key) if has_value else None
            if raw_path in (None, ""):
                self.apply_pathless(state, op, value, has_value)
            else:
                self.apply_path(state, op, raw_path, value, has_value)
        return state

    def apply_pathless(self, state: dict, op: str, value: Any, has_value: bool) -> None:
        if op == "remove":
            raise errors.bad_request("A remove operation needs a path.", ScimType.NO_TARGET)
        if not isinstance(value, dict):
            raise errors.bad_request("An operation without a path needs an object as its value.",
                                     ScimType.INVALID_VALUE)
        for key, item in value.items():
            if key.lower() == "schemas":
                continue
            if key in self.schemas or key.lower() == self.core_uri.lower():
                # {"urn:...:enterprise:2.0:User": {"department": "x"}}
                if not isinstance(item, dict):
                    raise errors.bad_request(f"{key} must be an object.")
                for sub_key, sub_value in item.items():
                    if sub_key.lower() != "schemas":  # an extension object may carry its own schemas
                        self.apply_path(state, op, f"{key}:{sub_key}", sub_value, True)
                continue
            lowered = key.lower()
            known = any(lowered.startswith(u.lower()) for u in self.schemas if u)
            if lowered.startswith("urn:") and not known and not lowered.startswith(self.core_uri.lower()):
                if self.custom_extensions and custom.is_custom_key(key):
                    # Entra's flag mode: full-URN custom keys in a path-less value (entra-scim.md §9).
                    self.apply_path(state, op, key, item, True)
                continue  # on other resources, an extension we do not support: ignored
            # Keys may be dotted ("name.givenName") or URN-qualified (Entra's
            # flag-style PATCH puts the enterprise extension's attributes here).
            self.apply_path(state, op, key, item, True)

    def apply_path(self, state: dict, op: str, raw_path: Any, value: Any, has_value: bool) -> None:
        if not isinstance(raw_path, str):
            raise errors.invalid_path("path must be a string")
        try:
            patch_path = parse_patch_path(raw_path)
        except FilterSyntaxError as exc:
            raise errors.invalid_path(f"Invalid path {raw_path!r}: {exc}") from None
        whole_custom = self.custom_extensions and custom.is_extension_urn(raw_path)
        if (patch_path.path.uri and not patch_path.path.attr) or whole_custom:
            # The whole extension as a path: {"path": "urn:…:enterprise:2.0:User", "value": {...}}
            uri = raw_path if whole_custom else patch_path.path.uri
            if op == "remove":
                if uri in self.schemas or whole_custom:
                    state.pop(custom.state_key(state, uri), None)
                return
            if not isinstance(value, dict):
                raise errors.bad_request(f"{raw_path} needs an object as its value.")
            for sub_key, sub_value in value.items():
                # scim2-models serialises an extension object with its own "schemas": not an attribute.
                if sub_key.lower() != "schemas":
                    self.apply_path(state, op, f"{uri}:{sub_key}", sub_value, True)
            return
        target = self.resolve(state, patch_path)
        if target is None:
            return
        if op != "remove" and not has_value:
            raise errors.bad_request(f"{op} on {raw_path} needs a value.", ScimType.INVALID_VALUE)
        if target.attr.multi_valued:
            self.multi(target, op, value)
        elif target.attr.type == "complex":
            self.complex_single(target, op, value)
        else:
            if target.path.path.sub:
                raise errors.invalid_path(f"{target.attr.name} has no sub-attributes")
            self.simple(target, op, value)

    def simple(self, target: Target, op: str, value: Any) -> None:
        key = _find_key(target.container, target.key) or target.key
        if op == "remove":
            if target.attr.required:
                raise errors.mutability(f"{target.attr.name} is required and cannot be removed")
            target.container.pop(key, None)
            return
        # Entra sends Add for single-valued attributes it saw empty: same as
        # replace.
        target.container.pop(key, None)
        target.container[target.key] = compat.unwrap_single_value(value)

    def complex_single(self, target: Target, op: str, value: Any) -> None:
        key = _find_key(target.container, target.key) or target.key
        current = target.container.get(key)
        sub_name = target.path.path.sub
        if target.attr.name == "manager" and not sub_name:
            if op == "remove":
                target.container.pop(key, None)
                return
            manager = compat.manager_id_from(value)
            target.container.pop(key, None)
            if manager is not None:
                target.container["manager"] = {"value": manager}
            return
        if sub_name:
            sub = target.attr.sub(sub_name)
            if sub is None:
                raise errors.invalid_path(f"{target.attr.name} has no sub-attribute {sub_name!r}")
            if sub.mutability == "readOnly":
                raise errors.mutability(f"{target.attr.name}.{sub.name} is read-only")
            current = dict(current) if isinstance(current, dict) else {}
            current.pop(_find_key(current, sub.name) or sub.name, None)
            if op != "remove":
                current[sub.name] = compat.unwrap_single_value(value)
            target.container.pop(key, None)
            if current:
                target.container[target.attr.name] = current
            return
        if op == "remove":
            target.container.pop(key, None)
            return
        if not isinstance(value, dict):
            raise errors.bad_request(f"{target.attr.name} needs an object as its value.")
        merged = dict(current) if isinstance(current, dict) else {}
        for sub_key, sub_value in value.items():
            merged.pop(_find_key(merged, sub_key) or sub_key, None)
            merged[sub_key] = sub_value
        target.container.pop(key, None)
        target.container[target.attr.name] = merged

    def multi(self, target: Target, op: str, value: Any) -> None:
        key = _find_key(target.container, target.key) or target.key
        current = target.container.get(key)
        elements: list = list(current) if isinstance(current, list) else []
        path = target.path
        if path.path.sub and path.filter is None:
            # "emails.value": every element's sub-attribute.
            self.multi_sub_all(target, elements, op, value)
        elif path.filter is not None:
            self.multi_filtered(target, elements, op, value)
        elif op == "remove":
            if value is None:
                elements = []
            else:
                # Remove only the listed values (Entra rule 7), never the whole list.
                wanted = value if isinstance(value, list) else [value]
                elements = [e for e in elements if not any(_same_element(e, w) for w in wanted)]
        elif op == "add":
            new = value if isinstance(value, list) else [value]
            for item in new:
                if not any(_same_element(e, item) for e in elements):
                    elements.append(item)
        else:
            elements = list(value) if isinstance(value, list) else [value]
        target.container.pop(key, None)
        if elements:
            target.container[target.attr.name] = elements

    def multi_sub_all(self, target: Target, elements: list, op: str, value: Any) -> None:
        sub = target.attr.sub(target.path.path.sub or "")
        if sub is None:
            raise errors.invalid_path(f"{target.attr.name} has no sub-attribute {target.path.path.sub!r}")
        for element in elements:
            if isinstance(element, dict):
                element.pop(_find_key(element, sub.name) or sub.name, None)
                if op != "remove":
                    element[sub.name] = value

    def multi_filtered(self, target: Target, elements: list, op: str, value: Any) -> None:
        path = target.path
        matched = [e for e in elements if element_matches(path.filter, e, target.attr)]
        sub = None
        if path.filter_sub:
            sub = target.attr.sub(path.filter_sub)
            if sub is None:
                raise errors.invalid_path(f"{target.attr.name} has no sub-attribute {path.filter_sub!r}")
        if op == "remove":
            if sub is None:
                elements[:] = [e for e in elements if not any(e is m for m in matched)]
            else:
                for element in matched:
                    element.pop(_find_key(element, sub.name) or sub.name, None)
            return
        if not matched:
            # Entra: an Add (and, seen in the wild, a Replace) on a filtered path
            # whose element does not exist yet creates it.
            element = _element_from_filter(path.filter)
            if element is None:
                raise errors.bad_request(f"No {target.attr.name} value matches the filter.", ScimType.NO_TARGET)
            elements.append(element)
            matched = [element]
        for element in matched:
            if sub is not None:
                element.pop(_find_key(element, sub.name) or sub.name, None)
                element[sub.name] = value
            elif isinstance(value, dict):
                if op == "replace":
                    keep = {k: v for k, v in element.items() if _find_key(value, k) is None}
                    element.clear()
                    element.update(keep)
                element.update(value)
            else:
                raise errors.bad_request(f"{target.attr.name}[…] needs an object as its value.")


def _same_element(element: Any, other: Any) -> bool:
    if isinstance(element, dict) and isinstance(other, dict):
        a = next((v for k, v in element.items() if k.lower() == "value"), None)
        b = next((v for k, v in other.items() if k.lower() == "value"), None)
        if b is not None:
            return (isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()) or a == b
        return element == other
    return element == other


def _element_from_filter(expr: Any) -> dict | None:
    """``type eq "work"`` (and ``and`` of such) → ``{"type": "work"}``."""
    if isinstance(expr, Compare) and expr.op == "eq" and not expr.path.uri:
        return {expr.path.sub or expr.path.attr: expr.value}
    if isinstance(expr, Logical) and expr.op == "and":
        left, right = _element_from_filter(expr.left), _element_from_filter(expr.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None


def _copied(value: Any) -> Any:
    """A copy of a JSON-like tree (dicts and lists, whose leaves are strings, numbers, booleans or None):
    ``copy.deepcopy`` without its memo and dispatch, which a tree of plain JSON never needs
    (every PATCH copies the resource; ``make bench`` measures PATCHes)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copied(item) for item in value]
    return value
