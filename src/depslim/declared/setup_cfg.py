"""setup.cfg: `[options] install_requires`, `tests_require` and `[options.extras_require]`.

Values are read with `configparser` and split the way setuptools splits them (one per line for a
multi-line value, `;`-separated on a single line); `file:` values are read as requirements files.
Lines come from a scan of the raw file, since configparser keeps no positions.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from depslim.declared.base import Collector, declared_from, parse_requirement
from depslim.declared.classify import is_dev_extra
from depslim.declared.requirements import RequirementsReader
from depslim.errors import InputError
from depslim.inputfile import read_text
from depslim.model import Location

_SECTION = re.compile(r"^\[([^\]]+)\]")
_KEY = re.compile(r"^([^\s=:#;][^=:]*?)\s*[=:]")


def _positions(text: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(section, key) → [(line, text)] for the key line and its indented continuation lines."""
    result: dict[tuple[str, str], list[tuple[int, str]]] = {}
    section = ""
    current: list[tuple[int, str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and current is not None:
            current.append((number, raw.strip()))
            continue
        if m := _SECTION.match(raw):
            section, current = m.group(1).strip(), None
        elif m := _KEY.match(raw):
            current = [(number, raw[m.end() :].strip())]
            result[(section, m.group(1).strip().lower().replace("-", "_"))] = current
        elif raw.strip() and not raw.lstrip().startswith(("#", ";")):
            current = None
    return result


def _split(value: str) -> list[str]:
    """setuptools' `_parse_list_semicolon` followed by dropping comment lines."""
    items = value.splitlines() if "\n" in value else value.split(";")
    return [item.strip() for item in items if item.strip() and not item.strip().startswith("#")]


class SetupCfgReader:
    def __init__(self, collector: Collector, path: Path) -> None:
        self.collector = collector
        self.path = path
        self.rel = collector.rel(path)
        try:
            self.text = read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(self.rel, f"cannot read: {exc}") from None
        self.parser = configparser.ConfigParser(interpolation=None)
        try:
            self.parser.read_string(self.text, source=self.rel)
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            raise InputError(self.rel, f"invalid setup.cfg: {exc.message}", line) from None
        self.positions = _positions(self.text)

    def read(self) -> None:
        self.collector.files.add(self.rel)
        self._key("options", "install_requires", group="main", dev=False)
        self._key("options", "tests_require", group="dev", dev=True)
        if self.parser.has_option("options", "extras_require"):  # FawltyDeps reads it; setuptools does not
            self.collector.warnings.append(
                f"{self.rel}: [options] extras_require is not read: setuptools takes extras only from the "
                "[options.extras_require] section (one key per extra)")
        if self.parser.has_section("options.extras_require"):
            for extra in self.parser.options("options.extras_require"):
                self._key(
                    "options.extras_require", extra, group=f"optional:{extra}", dev=is_dev_extra(extra)
                )

    def _key(self, section: str, key: str, *, group: str, dev: bool) -> None:
        value = self.parser.get(section, key, fallback=None)
        if value is None:
            return
        lines = self.positions.get((section, key.lower().replace("-", "_")), [(0, "")])
        if value.strip().startswith("file:"):
            reader = RequirementsReader(self.collector)
            for name in value.strip()[len("file:") :].split(","):
                path = (self.path.parent / name.strip()).resolve()
                if not path.is_file():
                    raise InputError(self.rel, f"{key}: file {name.strip()} does not exist", lines[0][0])
                reader.read(path, group=group, dev=dev)
            return
        used: set[int] = set()
        for item in _split(value):
            line = next(
                (n for n, text in lines if n not in used and item in text), lines[0][0]
            )
            used.add(line)
            req = parse_requirement(item, self.rel, line)
            self.collector.add(
                declared_from(req, Location(self.rel, line), group=group, source="setup.cfg", dev=dev)
            )


def read_setup_cfg(collector: Collector, path: Path) -> None:
    """Read one setup.cfg into `collector`."""
    SetupCfgReader(collector, path).read()
