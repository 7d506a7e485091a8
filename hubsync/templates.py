"""Message templates: a subject and a body with ``{placeholders}``, kept in the config dir.

Starting a new conversation from a template, rather than clicking Reply or Forward on an old
email, keeps unrelated emails out of each other's threads.
"""

import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from hubsync import paths
from hubsync.errors import NotFound, UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class Template:
    name: str
    subject: str
    body: str

    @property
    def variables(self) -> list[str]:
        """The placeholders of subject and body, sorted by name."""
        return sorted(set(fields(self.subject)) | set(fields(self.body)))

    def render(self, values: dict[str, str]) -> tuple[str, str]:
        """(subject, body); a missing variable is an error naming every missing one."""
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise UsageError(
                f"Template {self.name!r} needs {', '.join(missing)}; nothing was sent.",
                fix=" ".join(f"--var {m}=VALUE" for m in missing),
                reason="template-variable",
            )
        return _fill(self.subject, values), _fill(self.body, values)


_PLACEHOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parts(text: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder name or None) pieces; a placeholder is a plain name only:
    no attribute access, index, conversion or format spec (``{a.__class__}``, ``{a[0]}``
    and ``{a!r}`` are refused, so a template cannot reach into Python objects)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise UsageError(
            f"Template text is malformed: {exc} (write {{{{ and }}}} for braces).",
            reason="template-invalid",
        ) from None
    pieces = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (not _PLACEHOLDER.match(name) or spec or conversion):
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise UsageError(
                f"Template placeholder {{{shown}}} is not a plain name.",
                fix="Use placeholders like {first_name} (letters, digits, underscores); "
                "write {{ and }} for literal braces.",
                reason="template-invalid",
            )
        pieces.append((literal, name))
    return pieces


def _fill(text: str, values: dict[str, str]) -> str:
    return "".join(literal + (values[name] if name else "") for literal, name in _parts(text))


def fields(text: str) -> list[str]:
    """The placeholder names in ``text``, in order of first use."""
    return [name for _, name in _parts(text) if name]


def directory() -> Path:
    """Where templates are kept."""
    return paths.config_dir() / "templates"


def _path(name: str) -> Path:
    if not _NAME.match(name):
        raise UsageError(
            f"Template name {name!r} may hold letters, digits, '.', '_' and '-'.",
            reason="template-name",
        )
    return directory() / f"{name}.toml"


def parse_file(text: str) -> tuple[str, str]:
    """A template file: an optional ``Subject: ...`` first line, a blank line, the body."""
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        return first.split(":", 1)[1].strip(), rest.lstrip("\r\n")
    return "", text


def exists(name: str) -> bool:
    """Whether a template of this name is saved."""
    return _path(name).exists()


def save(template: Template) -> Path:
    """Write the template; returns its path."""
    fields(template.subject)
    fields(template.body)
    path = _path(template.name)
    data = tomli_w.dumps({"subject": template.subject, "body": template.body}).encode()
    paths.write_private_file(path, data)
    return path


def load(name: str) -> Template:
    """The named template; NotFound when there is none."""
    path = _path(name)
    if not path.exists():
        known = ", ".join(t.name for t in all_templates()) or "none"
        raise NotFound(
            f"No template named {name!r} (known: {known}).",
            fix="Add one with `hubsync templates add`.",
            reason="no-template",
        )
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Template(name, data.get("subject", ""), data.get("body", ""))


def all_templates() -> list[Template]:
    """Every saved template, by name."""
    if not directory().exists():
        return []
    return [load(p.stem) for p in sorted(directory().glob("*.toml"))]


def remove(name: str) -> None:
    """Delete the named template; UsageError when there is none."""
    path = _path(name)
    if not path.exists():
        raise NotFound(f"No template named {name!r}.", reason="no-template")
    path.unlink()
