#!/usr/bin/env python3
"""Pre-script: wake the agent when the content at a URL has changed since the last run.

Configuration (environment variables, or the defaults at the top of a copy of this file):
  URL        required; the http(s) address to fetch (10 s timeout).

The last seen hash is the task's own state: the script returns {"url", "hash"} as ``state`` and reads it back from
the ``state`` of the JSON document on its standard input at the next run (docs/prescripts.md), so it keeps no file.
The first run (or the first after URL changed) records a baseline and does not wake. Later runs wake only when the
body's SHA-256 differs from the one recorded; data then holds the url, the old and new hashes and the first 2000
characters of the new body. A non-2xx answer or a network error exits with code 1 (a script_error, and the state
stays as it was); missing configuration exits with code 2. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, NoReturn

# Configuration: the environment, or fill in the defaults here in a copy of this file.
URL = os.environ.get("URL", "").strip()

TIMEOUT_S = 10
BODY_CHARS = 2000


def fail(message: str, code: int) -> NoReturn:
    print(f"url_changed: {message}", file=sys.stderr)
    sys.exit(code)


def previous_hash(url: str) -> str | None:
    """The hash the last run of this task saw for ``url``: the ``state`` on standard input (none at first)."""
    try:
        document = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        return None
    state = document.get("state") if isinstance(document, dict) else None
    if not isinstance(state, dict) or state.get("url") != url or not isinstance(state.get("hash"), str):
        return None
    return str(state["hash"])


def fetch(url: str) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"User-Agent": "inbox-prescript/url_changed"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status = response.status
            body: bytes = response.read()
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        fail(f"{url} answered HTTP {exc.code} {exc.reason}", 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        fail(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}", 1)
    if not 200 <= status < 300:
        fail(f"{url} answered HTTP {status}", 1)
    return body, charset


def decode(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def main() -> None:
    url = URL
    if not url:
        fail("set URL to the address to watch", 2)
    body, charset = fetch(url)
    new_hash = hashlib.sha256(body).hexdigest()

    old_hash = previous_hash(url)
    result: dict[str, Any]
    if old_hash is None:
        result = {"wakeAgent": False, "data": {"status": "baseline recorded", "url": url, "new_hash": new_hash}}
    elif old_hash == new_hash:
        result = {"wakeAgent": False, "data": {"status": "unchanged", "url": url, "new_hash": new_hash}}
    else:
        result = {
            "wakeAgent": True,
            "data": {
                "status": "changed",
                "url": url,
                "old_hash": old_hash,
                "new_hash": new_hash,
                "body": decode(body, charset)[:BODY_CHARS],
            },
        }
    result["state"] = {"url": url, "hash": new_hash}  # what the next run compares with
    print(json.dumps(result))


if __name__ == "__main__":
    main()
