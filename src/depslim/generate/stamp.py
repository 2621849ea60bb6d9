"""Content stamps: a generated file carries the hash of its own body in its first line.

That makes hand edits detectable without any state outside the file: if the body no longer
hashes to the stamp, someone edited it since depslim wrote it, and depslim refuses to
overwrite it without --force. A file with no stamp was not written by depslim at all.
"""

from __future__ import annotations

from pathlib import Path

from depslim.errors import WriteRefused
from depslim.inputfile import read_text

MARK = "depslim: generated sha256="


def _digest(body: str) -> str:
    import hashlib  # here, not at the top: loading OpenSSL is a measurable part of `depslim lock` start-up

    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def stamp(body: str, *, comment: str = "#") -> str:
    """Prefix `body` with a stamp line in the file's comment syntax (`#` or `<!--`).

    Every generated file is made here, so here its text is redacted (`depslim.redact`): a
    credential copied from an input never reaches it, and the stamp covers the text as written
    (the writer's own redaction then changes nothing, so a rerun still finds the file intact)."""
    from depslim.redact import redact

    body = redact(body)
    line = f"{comment} {MARK}{_digest(body)}"
    if comment == "<!--":
        line += " -->"
    return f"{line}\n{body}"


def split_stamp(text: str) -> tuple[str | None, str]:
    """Return (recorded digest or None, body) of a file's text."""
    first, sep, body = text.partition("\n")
    at = first.find(MARK)
    if at < 0 or not sep:
        return None, text
    digest = first[at + len(MARK):].removesuffix("-->").strip()
    return digest, body


def is_intact(text: str) -> bool:
    """True when `text` carries a stamp and its body still matches it."""
    digest, body = split_stamp(text)
    return digest is not None and digest == _digest(body)


def check_overwrite(path: Path, new_text: str | None = None, *, force: bool) -> None:
    """Refuse to replace a hand-edited or foreign file unless `force`.

    A file whose content is already exactly `new_text` is fine (idempotent rerun).
    """
    if force or not path.exists():
        return
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise WriteRefused(f"{path}: cannot read the existing file ({exc}); pass --force to replace it") from None
    if new_text is not None and text == new_text:
        return
    digest, _ = split_stamp(text)
    if digest is None:
        raise WriteRefused(
            f"{path}: exists and was not written by depslim; pass --force to overwrite it",
        )
    if not is_intact(text):
        raise WriteRefused(
            f"{path}: edited by hand since depslim wrote it (its body no longer matches its stamp); "
            "move your edits to the sources or pass --force to overwrite it",
        )
