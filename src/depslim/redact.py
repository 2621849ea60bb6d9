"""Secrets never leave depslim: one redaction rule set for every output and written file.

Credentials reach depslim's inputs in many places (index URLs with a password, connection strings
in code, `ENV AWS_SECRET_ACCESS_KEY=...` in a Dockerfile or an image config, tokens in history
lines). Whatever depslim prints, writes or caches goes through here first, so a new output cannot
forget a case the others handle. The shapes live in `data/secrets.toml`.
"""

from __future__ import annotations

import re
from functools import cache

from depslim.knowledge import load_data

MASK = "***"

# scheme://user:password@host -> scheme://***@host (userinfo is dropped whole: a user name alone
# is often a token, as in https://<token>@github.com)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s'\"<>]+@")


@cache
def _rules() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    data = load_data("secrets")
    keys = re.compile(data["key_names"])
    ignore = re.compile(data["ignore_keys"])
    tokens = re.compile("|".join(f"(?:{t})" for t in data["tokens"]))
    # `password=hunter2`, `"api_key": "x"`, `PGPASSWORD=x` inside free text (DSNs, command lines)
    assignment = re.compile(
        r"(?i)(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>\s*[:=]\s*)(?P<quote>['\"]?)(?P<value>[^\s'\";&,]+)"
    )
    return keys, ignore, tokens, assignment


def is_secret_key(name: str) -> bool:
    """Does an environment variable, build arg or config key named `name` hold a secret?"""
    keys, ignore, _tokens, _assignment = _rules()
    return bool(keys.search(name)) and not ignore.match(name)


def redact(text: str) -> str:
    """`text` with URL credentials, known token shapes and secret `key=value` values masked."""
    if not text:
        return text
    keys, ignore, tokens, assignment = _rules()
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = tokens.sub(MASK, text)

    def mask(match: re.Match[str]) -> str:
        key = match.group("key")
        if keys.search(key) and not ignore.match(key) and match.group("value") != MASK:
            return f"{key}{match.group('sep')}{match.group('quote')}{MASK}"
        return match.group(0)

    return assignment.sub(mask, text)


def redact_env(name: str, value: str) -> str:
    """An environment value as it may be shown: masked whole under a secret-looking name."""
    return MASK if is_secret_key(name) and value else redact(value)
