"""What a twin is: a named misconfiguration of the good stack, declared as typed overrides per part."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from sandbox.parts import (
    AppSettings,
    DataPart,
    MailKnobs,
    MonitoringKnobs,
    MtaKnobs,
    NginxKnobs,
    PostgresPart,
    RedisPart,
)

H = "001_78cd32186fd6cabf.txt"  # VeriHome guide
V = "000_58cfc3a4ec8581b0.txt"  # Verso-Backend guide

# What a twin can run under. The SPA and its JSON API (sandbox/API.md): Flask (sandbox.app), Django
# (sandbox.django_api). The server-rendered sites behind a form login (sandbox/API.md, "The sites"): Django
# templates (sandbox.django_site), Flask with a bundled front end and a same-origin API (sandbox.flask_site).
FRAMEWORKS = ("flask", "django", "django-site", "flask-site")
Framework = Literal["flask", "django", "django-site", "flask-site"]
API_FRAMEWORKS = FRAMEWORKS[:2]
SITE_FRAMEWORKS = FRAMEWORKS[2:]


class TwinError(ValueError):
    """A twin whose declaration is wrong: the message names the twin and each bad knob."""


class Twin(BaseModel):
    """A twin. Each part (nginx, app, postgres, redis, data) is given as a dict of overrides and
    validated here, when the twin is declared; the twin then holds the part's full model."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str
    description: str
    guide: str
    breaks: dict[str, str]  # check id -> a regex its failure message must match
    # check id -> the check it is blocked by: the cascade is reported once, at the root (a key of breaks).
    blocked: dict[str, str] = Field(default_factory=dict)
    # Deep-merged into the environment file by the self-tests, for twins whose misconfiguration is in
    # the declared configuration; `${VAR}` placeholders in it are left for the environment loader.
    env: dict[str, Any] = Field(default_factory=dict)
    nginx: NginxKnobs = Field(default_factory=NginxKnobs)
    app: AppSettings = Field(default_factory=AppSettings)
    postgres: PostgresPart = Field(default_factory=PostgresPart)
    redis: RedisPart = Field(default_factory=RedisPart)
    data: DataPart = Field(default_factory=DataPart)
    monitoring: MonitoringKnobs = Field(default_factory=MonitoringKnobs)
    mail: MailKnobs = Field(default_factory=MailKnobs)
    mta: MtaKnobs = Field(default_factory=MtaKnobs)
    # Where the misconfiguration can be expressed; a twin of a Flask/SQLAlchemy-only setting lists only flask,
    # a twin of a site its site frameworks. Left unset: both API frameworks (flask, django), except for a twin
    # that changes only Redis or the Flask API's database (its data, Alembic revision, transaction ids): under
    # Django the checks would see the very same server.
    # Declared last: its validator reads the parts above.
    frameworks: tuple[Framework, ...] = Field((), validate_default=True)

    def __init__(self, **fields: Any) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise TwinError(f"twin {fields.get('name')!r}: {'; '.join(_problems(exc))}") from None

    @field_validator("breaks")
    @classmethod
    def _patterns_compile(cls, breaks: dict[str, str]) -> dict[str, str]:
        for check_id, pattern in breaks.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{check_id}: {exc}") from None
        return breaks

    @field_validator("blocked")
    @classmethod
    def _roots_break(cls, blocked: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        breaks = info.data.get("breaks", {})
        for check_id, root in blocked.items():
            if root not in breaks:
                raise ValueError(f"{check_id} is blocked by {root}, which the twin does not break")
        return blocked

    @field_validator("frameworks")
    @classmethod
    def _derive_frameworks(cls, frameworks: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if frameworks:
            return frameworks
        parts = info.data  # the fields validated so far: a part that failed is missing
        redis, data = parts.get("redis", RedisPart()), parts.get("data", DataPart())
        postgres = parts.get("postgres", PostgresPart())
        server_only = redis.declared or data.changes_app_database or postgres.next_xid
        web = any(parts[name].declared for name in ("app", "nginx") if name in parts)
        return API_FRAMEWORKS[:1] if server_only and not web else API_FRAMEWORKS

    @property
    def own_cluster(self) -> bool:
        """Whether the twin runs a PostgreSQL cluster of its own (per framework instance)."""
        return self.postgres.declared

    def instance(self, framework: str) -> str:
        """The running instance's name: the twin's for Flask, `<twin>@<framework>` otherwise."""
        return instance_name(self.name, framework)


def _problems(exc: ValidationError) -> list[str]:
    """One line per bad knob (`nginx.cros: unknown knob`), however many errors pydantic reports for it."""
    by_knob: dict[str, list[Any]] = {}
    for error in exc.errors():
        by_knob.setdefault(_knob(error["loc"]), []).append(error)
    return [f"{knob}: {_explain(knob, errors)}" for knob, errors in by_knob.items()]


def _knob(loc: tuple[int | str, ...]) -> str:
    """The path of the knob an error is about: `app.cors.origins`, without what pydantic adds below a
    knob (the members of a union, list indices, dict keys)."""
    model: type[BaseModel] = Twin
    path: list[str] = []
    for key in loc:
        path.append(str(key))
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        inner = fields[key].annotation if key in fields else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            break
        model = inner
    return ".".join(path)


def _explain(knob: str, errors: list[Any]) -> str:
    if any(error["type"] == "extra_forbidden" for error in errors):
        return "unknown knob" if "." in knob else "unknown field"
    if errors[0]["type"] == "value_error":  # from a validator of Twin's: its own words
        return str(errors[0]["ctx"]["error"])
    messages = dict.fromkeys(error["msg"][0].lower() + error["msg"][1:] for error in errors)
    text = " or ".join(messages)
    return text if errors[0]["type"] == "missing" else f"{text}, got {errors[0]['input']!r}"


def instance_name(twin: str, framework: str) -> str:
    return twin if framework == FRAMEWORKS[0] else f"{twin}@{framework}"


def split_instance(name: str) -> tuple[str, str]:
    """`cors-no-vary@django` -> ("cors-no-vary", "django"); a bare twin name runs under Flask."""
    twin, _, framework = name.partition("@")
    return twin, framework or FRAMEWORKS[0]
