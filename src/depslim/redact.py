"""Secrets never leave depslim: one redaction rule set for every output, written file and cache.

Credentials reach depslim's inputs in many places (index URLs with a password, connection strings
in code, `ENV AWS_SECRET_ACCESS_KEY=...` in a Dockerfile or an image config, tokens in history
lines). Whatever depslim prints, writes or caches goes through here first, so a new output cannot
forget a case the others handle. The shapes live in `data/secrets.toml`.

Where it is applied, each at the one place text of its kind is made (never per field):
- generated files: `generate.stamp.stamp` (before the stamp is taken, so the stamp covers what is
  on disk), and `fsio.atomic_write*` for every text written (a user's own lines of a file depslim
  merges into are left as they were);
- reports on stdout or `-o`: `cli.options.emit`; rich output (terminal tables, notes, errors):
  `console()`, whose consoles redact every string before layout, so wrapping or an ellipsis cannot
  cut a secret in two and let half of it through;
- the scan cache: each file's scan result (`imports.scan_file_bytes`), so evidence built from code
  literals is clean wherever it goes next; the memo keys on a hash of its inputs, never their values.

A `${VAR}` or `$VAR` reference is never masked: it is how a credential should be written (pip and
Docker expand it at install or build time), and it is not one.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from depslim.knowledge import load_data

if TYPE_CHECKING:
    from rich.console import Console

MASK = "***"

# scheme://userinfo@host: everything up to the last `@` before the path (a password may hold one)
_USERINFO = re.compile(r"(?i)(?<![A-Za-z0-9+.-])([a-z][a-z0-9+.-]*://)([^/?#\s'\"<>`]+)@")
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
# `password=hunter2`, `"api_key": "x"`, `PGPASSWORD='a b'` inside free text (DSNs, command lines,
# JSON, YAML). `==` is a version pin (tokenizers==0.15), `::`/`:/` no assignment.
_ASSIGNMENT = re.compile(
    r"""(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?P<kq>['"]?)(?P<sep>[ \t]*(?:=(?!=)|:(?![:/=]))[ \t]*)"""
    r"""(?:(?P<q>['"])(?P<qv>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)|(?P<v>(?:\\.|[^\s'"\\;&,])+))"""
)
# `--password hunter2`, `--token 'x'` on a command line
_OPTION = re.compile(
    r"""(?<![A-Za-z0-9_])(?P<key>--?[A-Za-z][A-Za-z0-9_-]*)(?P<sep>[ \t]+)"""
    r"""(?:(?P<q>['"])(?P<qv>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)|(?P<v>[^\s'"\-][^\s'"]*))"""
)


@cache
def _rules() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    data = load_data("secrets")
    keys = re.compile(data["key_names"])
    ignore = re.compile(data["ignore_keys"])
    # a token starts a word: `task-runner-...` holds no `sk-...` key
    tokens = re.compile("|".join(f"(?<![A-Za-z0-9_])(?:{t})" for t in data["tokens"]))
    return keys, ignore, tokens


def is_secret_key(name: str) -> bool:
    """Does an environment variable, build arg or config key named `name` hold a secret?

    A secret word counts where it ends a part of the name: the end, a separator, or a camelCase
    hump (PGPASSWORD, NPM_TOKEN, authToken), never inside a longer word (tokenizers, authority)."""
    keys, ignore, _tokens = _rules()
    name = name.lstrip("-")
    if ignore.match(name):
        return False
    for match in keys.finditer(name):
        end = match.end()
        if end == len(name) or not name[end].isalnum() or (name[end - 1].islower() and name[end].isupper()):
            return True
    return False


def is_reference(value: str) -> bool:
    """Is `value` only an environment-variable reference (`${VAR}` / `$VAR`), not a literal?"""
    return _REFERENCE.fullmatch(value) is not None


def _userinfo(match: re.Match[str]) -> str:
    scheme, info = match.group(1), match.group(2)
    user, colon, password = info.partition(":")
    if is_reference(password if colon else user):  # https://user:${PASSWORD}@host, https://${TOKEN}@host
        return match.group(0)
    return f"{scheme}{MASK}@"


def _masked_value(match: re.Match[str]) -> str:
    """The assignment or option `match` with its value masked when its key names a secret."""
    value = match.group("qv") if match.group("q") else match.group("v")
    if value in (None, "", MASK) or is_reference(value) or not is_secret_key(match.group("key")):
        return match.group(0)
    quote = match.group("q") or ""
    kq = match.groupdict().get("kq") or ""
    return f"{match.group('key')}{kq}{match.group('sep')}{quote}{MASK}{quote}"


def redact(text: str) -> str:
    """`text` with URL credentials, known token shapes and secret `key=value` values masked.

    Idempotent (a masked text stays as it is), so every layer may apply it again safely."""
    if not text:
        return text
    keys, _ignore, tokens = _rules()
    if "://" in text:
        text = _USERINFO.sub(_userinfo, text)
    text = tokens.sub(MASK, text)
    if keys.search(text):  # most text names no secret at all: one search instead of every assignment
        text = _ASSIGNMENT.sub(_masked_value, text)
        if "-" in text:
            text = _OPTION.sub(_masked_value, text)
    return text


def redact_env(name: str, value: str) -> str:
    """An environment value as it may be shown: masked whole under a secret-looking name."""
    if value and is_secret_key(name) and not is_reference(value):
        return MASK
    return redact(value)


def has_literal_credential(text: str) -> bool:
    """Does `text` carry a credential that `redact` would mask (a literal, not a `${VAR}` reference)?"""
    return redact(text) != text


def console(**options: Any) -> Console:
    """A rich Console that redacts every string it is given before layout.

    Every string rich prints (print arguments, table cells, tree labels, status text) becomes rich
    text through `Console.render_str`; redacting there means no width, wrap or ellipsis can split
    a secret into pieces the rules no longer recognise."""
    return _console_class()(**options)


@cache
def _console_class() -> type[Console]:
    from rich.console import Console  # rich costs ~40 ms to import: only for commands that print with it

    class RedactingConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(redact(text), **kwargs)

    return RedactingConsole


def literal_credential_note(where: str) -> str:
    """What to tell the user when an input holds a credential in clear (`where`: file:line)."""
    return (f"{where}: holds a literal credential, masked as {MASK} in what depslim writes; put it in an "
            "environment variable and reference it instead, as pip expands ${VAR} in requirement files "
            "(--index-url https://user:${PIP_PASSWORD}@host/simple)")


def clip(text: str, width: int, ellipsis: str = "…") -> str:
    """`text` redacted, then cut to `width` characters: a cut before redaction can split a
    credential (`https://user:pass…`) so that no rule recognises what is left of it."""
    text = redact(text)
    return text if len(text) <= width else text[: max(0, width - len(ellipsis))] + ellipsis
