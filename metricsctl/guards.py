"""The guards untrusted text passes through: one each for identifiers, generated dbt SQL, secrets and paths.

- `check_identifier`: a name that becomes a file, a relation or a column is a plain SQL identifier.
- `escape_jinja`: text placed into a generated dbt model can never become Jinja that dbt would run.
- `register_secret` / `mask`: a value read from an environment variable as a secret is replaced by `***`
  wherever it (or a long enough piece of it, e.g. a URL's path inside an error message) appears.
- `inside`: a path that is about to be written lies inside the folder it belongs to.
"""

from __future__ import annotations

import re
from pathlib import Path

#: A relation, file or column name: a letter or underscore, then letters, digits and underscores; at most
#: 63 characters (PostgreSQL's limit, the shortest of the supported warehouses).
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


#: A name that is stored and shown but never becomes a file or relation (alert rules, channels): hyphens too.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}")


def is_loopback(host: str | None) -> bool:
    """A name or address that reaches this machine only: localhost (and *.localhost), 127.0.0.0/8, ::1."""
    import ipaddress

    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def identifier_problem(name: object, what: str, becomes: str = "a file and a table name") -> str | None:
    """Why `name` cannot name a file, relation or column, or None when it can."""
    text = str(name) if name is not None else ""
    if IDENTIFIER.fullmatch(text):
        return None
    return (f"{what} {_shown(text)!r} is not a valid name: use letters, digits and underscores, starting with a "
            f"letter or underscore, at most 63 characters (it becomes {becomes})")


def name_problem(name: object, what: str) -> str | None:
    """Why `name` cannot name an alert rule or channel (kept in tables, logs and messages), or None."""
    text = str(name) if name is not None else ""
    if NAME.fullmatch(text):
        return None
    return (f"{what} {_shown(text)!r} is not a valid name: use letters, digits, underscores and hyphens, "
            f"starting with a letter or underscore, at most 63 characters")


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "..."


# --- text for a terminal ---------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline: C0, DEL and C1


def printable(text: str) -> str:
    """`text` with every control character but tab and newline shown as `\\xNN`: a value from the data or a
    compared revision cannot clear the screen, recolour it, move the cursor or hide a link (ESC ... sequences)
    on the terminal that prints it, nor in a file read there later."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


# --- generated dbt SQL -----------------------------------------------------------------------------
_JINJA_OPEN = re.compile(r"\{[{%#]")


def escape_jinja(sql: str) -> str:
    """`sql` with every Jinja opening (`{{`, `{%`, `{#`) written so that dbt prints it instead of running it.

    Labels, descriptions and filter literals end up inside generated models, which dbt renders with Jinja:
    `{{ env_var('TOKEN') }}` in a description must land in the table as text, never as the token.
    """
    return _JINJA_OPEN.sub(lambda m: "{{ '" + m.group(0) + "' }}", sql)


# --- secrets ---------------------------------------------------------------------------------------
#: A piece of a secret at least this long found in a message is masked too (a URL's path, a token).
MIN_SECRET_PIECE = 8
_SECRETS: set[str] = set()
SECRET_KEYS = re.compile(r"(pass|secret|token|private|credential|api[_-]?key|auth|keyfile)", re.IGNORECASE)


def register_secret(value: object) -> None:
    """Remember a secret read from the environment, so `mask` hides it from every message and file."""
    text = str(value) if value is not None else ""
    if len(text) >= 4:
        _SECRETS.add(text)


def _secret_parts(secret: str) -> tuple[str, list[str]]:
    """The secret masked whole, and the parts of it masked in pieces: of a URL only its user information,
    path and query (the token), never its scheme, host or port, which messages name rightly."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(secret)
    except ValueError:
        return secret, [secret]
    if parts.scheme and parts.netloc:
        tail = secret[len(f"{parts.scheme}://{parts.netloc}"):]
        userinfo = parts.netloc.rpartition("@")[0]
        password = userinfo.partition(":")[2]  # alone too: a message may quote it without the user's name
        return secret, [p for p in (tail, userinfo, password) if len(p) >= 4]
    return secret, [secret]


def _masked_spans(text: str, secret: str) -> list[tuple[int, int]]:
    if len(secret) < MIN_SECRET_PIECE:
        # a short secret is masked where it stands as a whole word only: `alerts` must not eat `alerts.yml`
        pattern = rf"(?<![A-Za-z0-9_.\-/]){re.escape(secret)}(?![A-Za-z0-9_.\-/])"
        return [m.span() for m in re.finditer(pattern, text)]
    spans: list[tuple[int, int]] = []
    shortest = MIN_SECRET_PIECE
    i = 0
    while i <= len(text) - shortest:
        k = 0
        while i + k < len(text) and text[i:i + k + 1] in secret:
            k += 1
        if k >= shortest:
            spans.append((i, i + k))
            i += k
        else:
            i += 1
    return spans


def mask(text: str, secrets: set[str] | None = None) -> str:
    """`text` with every registered secret, and every piece of one `MIN_SECRET_PIECE` long, as `***`."""
    known = _SECRETS if secrets is None else secrets
    if not known or not text:
        return text
    spans: list[tuple[int, int]] = []
    for secret in known:
        whole, parts = _secret_parts(secret)
        start = text.find(whole) if len(whole) >= MIN_SECRET_PIECE else -1  # a short one: as a word only
        while start >= 0:
            spans.append((start, start + len(whole)))
            start = text.find(whole, start + 1)
        for part in parts:
            if any(piece in text for piece in _pieces(part)):
                spans += _masked_spans(text, part)
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    last = 0
    for start, end in spans:
        if end <= last:
            continue
        start = max(start, last)
        out.append(text[last:start] + "***")
        last = end
    out.append(text[last:])
    return "".join(out)


def _pieces(secret: str) -> list[str]:
    """Cheap pre-check: the secret's pieces of MIN_SECRET_PIECE characters (or the whole short secret)."""
    size = min(MIN_SECRET_PIECE, len(secret))
    return [secret[i:i + size] for i in range(0, len(secret) - size + 1)]


# --- paths -----------------------------------------------------------------------------------------
def inside(path: Path, folder: Path) -> bool:
    """Whether `path`, with every `..` and symlink resolved, lies inside `folder`."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
