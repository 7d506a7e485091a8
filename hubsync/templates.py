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
from hubsync.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class Template:
    name: str
    subject: str
    body: str

    @property
    def variables(self) -> list[str]:
        """The placeholders of subject and body, in order of first use."""
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
        return self.subject.format_map(values), self.body.format_map(values)


def fields(text: str) -> list[str]:
    """The placeholder names in ``text``, in order of first use."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError as exc:
        raise UsageError(
            f"Template text is malformed: {exc} (write {{{{ and }}}} for braces).",
            reason="template-invalid",
        ) from None


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


def save(template: Template) -> Path:
    """Write the template; returns its path."""
    fields(template.subject)
    fields(template.body)
    path = _path(template.name)
    data = tomli_w.dumps({"subject": template.subject, "body": template.body}).encode()
    paths.write_private_file(path, data)
    return path


def load(name: str) -> Template:
    """The named template; UsageError when there is none."""
    path = _path(name)
    if not path.exists():
        known = ", ".join(t.name for t in all_templates()) or "none"
        raise UsageError(
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
        raise UsageError(f"No template named {name!r}.", reason="no-template")
    path.unlink()
