"""Versioned documents on the single table, each version immutable: workflow definitions and module templates
(``WORKFLOW#<name> / V#<nnnn>``) and module configurations (``CONFIG#<module> / V#<nnnn>``). ``_Versions``
also keeps the question sets (casework.adapters.customers) and the rule sets (casework.adapters.rules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist, PutError

from casework.adapters.codec import plain
from casework.adapters.directory import _TtlCache
from casework.adapters.dynamo import ConfigItem, Item, WorkflowItem, _one_page
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, NotFound, ValidationFailed, require_version_read
from casework.domain.workflow import WorkflowDefinition, parse_definition

if TYPE_CHECKING:
    from casework.domain.care.config import ModuleConfig


def _check_template(raw: dict[str, Any]) -> None:
    """A module template must compile, with the shipped default configuration, for every default type."""
    from casework.domain.care.compile import compile_definition
    from casework.domain.care.config import parse_config
    from casework.workflows import default_configs

    config = parse_config(raw["name"], default_configs()[raw["name"]])
    for t in config.types:
        compile_definition(raw, config, t.code, 0)


class _Versions:
    """Immutable versions of named documents (``<PREFIX>#name`` / ``V#<n>``: workflow definitions and module
    templates, module configurations). Each version is read once per process; "latest" is cached for a while
    (one Query to find it); ``missing`` makes the NotFound a reader sees."""

    def __init__(
        self,
        model: type[Item],
        prefix: str,
        ttl_seconds: float,
        missing: Callable[[str, int | None], NotFound],
    ) -> None:
        self.model, self.prefix, self.missing = model, prefix, missing
        self.bodies: dict[tuple[str, int], dict[str, Any]] = {}
        self.latest = _TtlCache(ttl_seconds)

    def newest(self, name: str) -> int | None:
        """The highest stored version, read now (not cached); None when there is none."""
        iterator = self.model.query(
            f"{self.prefix}#{name}",
            range_key_condition=Item.sk.startswith("V#"),
            scan_index_forward=False,
            page_size=1,
        )
        items, _ = _one_page(iterator, self.model)
        return int(items[0].sk[2:]) if items else None

    def _latest(self, name: str) -> int:
        version = self.newest(name)
        if version is None:
            raise self.missing(name, None)
        return version

    def get(self, name: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        if version is None:
            version = self.latest.get(name, lambda: self._latest(name))
        key = (name, version)
        if key not in self.bodies:
            try:
                item = self.model.get(f"{self.prefix}#{name}", f"V#{version:04d}")
            except (DoesNotExist, ValueError):
                raise self.missing(name, version) from None
            self.bodies[key] = plain(item.body.as_dict())
        return self.bodies[key], version

    def forget_latest(self) -> None:
        """This process has stored a new version: see it at once."""
        self.latest = _TtlCache(self.latest.ttl)

    def add(self, name: str, body: dict[str, Any], expected_version: int | None, what: str) -> int:
        """Store ``body`` as the next version of ``name``, unless somebody stored one since
        ``expected_version`` (409 STALE_VERSION) or at the same time (409 CONCURRENT_UPDATE); ``what`` names
        the document in those messages."""
        latest = self.newest(name) or 0
        require_version_read(what, expected_version, latest)
        version = latest + 1
        try:
            self.model(pk=f"{self.prefix}#{name}", sk=f"V#{version:04d}", body=body).save(
                condition=self.model.pk.does_not_exist()
            )
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("CONCURRENT_UPDATE", f"Somebody saved the {what} at the same time.") from None
            raise
        self.forget_latest()
        return version


def _no_configuration(module: str, version: int | None) -> NotFound:
    if version is None:
        return NotFound(ErrorCode.UNKNOWN_CONFIGURATION, f"{module} is not configured.", {"module": module})
    return NotFound(ErrorCode.UNKNOWN_CONFIGURATION, f"There is no {module} configuration version {version}.")


def _no_case_type(name: str, version: int | None) -> NotFound:
    if version is None:
        return NotFound(ErrorCode.UNKNOWN_CASE_TYPE, f"There is no case type {name!r}.", {"type": name})
    return NotFound(ErrorCode.UNKNOWN_CASE_TYPE, f"There is no case type {name!r} (version {version}).")


class DynamoConfigStore:
    """Module configurations, one immutable item per version (like workflow definitions); "latest" is cached
    for a minute, versions for the life of the process."""

    def __init__(self, latest_ttl_seconds: float = 60.0) -> None:
        self.stored = _Versions(ConfigItem, "CONFIG", latest_ttl_seconds, _no_configuration)
        self.parsed: dict[tuple[str, int], ModuleConfig] = {}

    def get(self, module: str, version: int | None = None) -> tuple[ModuleConfig, int]:
        body, version = self.stored.get(module, version)
        key = (module, version)
        if key not in self.parsed:
            from casework.domain.care.config import parse_config  # only care modules pay for its import

            self.parsed[key] = parse_config(module, body)
        return self.parsed[key], version

    def put(self, module: str, config: ModuleConfig, expected_version: int | None) -> int:
        version = self.stored.add(module, config.model_dump(mode="json"), expected_version, "configuration")
        self.parsed[(module, version)] = config
        return version


class DynamoWorkflowStore:
    """Versions are immutable, so they are cached for the life of the process; "latest" for a minute.

    Care modules (``"kind": "module"``) are stored as templates; ``get`` compiles one with a configuration
    version for a type (see casework.domain.care.compile)."""

    def __init__(self, latest_ttl_seconds: float = 60.0, configs: DynamoConfigStore | None = None) -> None:
        self.stored = _Versions(WorkflowItem, "WORKFLOW", latest_ttl_seconds, _no_case_type)
        self.parsed: dict[tuple[Any, ...], WorkflowDefinition] = {}
        self.configs = configs or DynamoConfigStore(latest_ttl_seconds)

    def get(
        self,
        name: str,
        version: int | None = None,
        *,
        subtype: str | None = None,
        config_version: int | None = None,
    ) -> WorkflowDefinition:
        raw, version = self.stored.get(name, version)
        if raw.get("kind") != "module":
            key: tuple[Any, ...] = (name, version)
            if key not in self.parsed:
                self.parsed[key] = parse_definition(raw)
            return self.parsed[key]
        config, config_version = self.configs.get(name, config_version)
        key = (name, version, config_version, subtype)
        if key not in self.parsed:
            from casework.domain.care.compile import compile_definition

            try:
                self.parsed[key] = compile_definition(raw, config, subtype, config_version)
            except KeyError:
                raise ValidationFailed(
                    ErrorCode.UNKNOWN_TYPE,
                    f"{raw.get('title', name)} has no type {subtype!r}.",
                    {"types": [t.code for t in config.types]},
                ) from None
        return self.parsed[key]

    def template(self, name: str, version: int | None = None) -> dict[str, Any]:
        return self.stored.get(name, version)[0]

    @staticmethod
    def publish(raw: dict[str, Any]) -> bool:
        """Store a definition (or module template) version. Refuses to change a stored version: bump
        ``version`` instead. Returns False when that exact version is already stored."""
        if raw.get("kind") == "module":
            _check_template(raw)
        else:
            parse_definition(raw)
        pk, sk = f"WORKFLOW#{raw['name']}", f"V#{raw['version']:04d}"
        try:
            WorkflowItem(pk=pk, sk=sk, body=dict(raw)).save(condition=WorkflowItem.pk.does_not_exist())
            return True
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        existing = plain(WorkflowItem.get(pk, sk).body.as_dict())
        if existing != plain(dict(raw)):
            raise ValueError(
                f"workflow {raw['name']} v{raw['version']} is stored with other content; bump the version"
            )
        return False
