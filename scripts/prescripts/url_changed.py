#!/usr/bin/env python3
"""Pre-script: wake the agent when the content at a URL has changed since the last run.

Configuration (environment variables, or the defaults at the top of a copy of this file):
  URL        required; the http(s) address to fetch (10 s timeout).
  STATE_DIR  optional; where the last seen hash is kept, one file per URL. Default: /workspace/.inbox-scripts when
             /workspace exists, else $HOME/.inbox-scripts.

The first run records a baseline and does not wake. Later runs wake only when the body's SHA-256 differs from the
one recorded; data then holds the url, the old and new hashes and the first 2000 characters of the new body.
A non-2xx answer or a network error exits with code 1 (a script_error); missing configuration exits with code 2.
Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

# Configuration: the environment, or fill in the defaults here in a copy of this file.
URL = os.environ.get("URL", "").strip()
STATE_DIR = os.environ.get("STATE_DIR", "").strip()

TIMEOUT_S = 10
BODY_CHARS = 2000


def fail(message: str, code: int) -> NoReturn:
    print(f"url_changed: {message}", file=sys.stderr)
    sys.exit(code)


def state_dir() -> Path:
    if STATE_DIR:
        return Path(STATE_DIR)
    if os.path.isdir("/workspace"):
        return Path("/workspace/.inbox-scripts")
    return Path(os.environ.get("HOME") or "/tmp") / ".inbox-scripts"


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

    folder = state_dir()
    state_file = folder / f"url-{hashlib.sha256(url.encode()).hexdigest()[:24]}.json"
    old_hash: str | None = None
    if state_file.is_file():
        try:
            old_hash = json.loads(state_file.read_text(encoding="utf-8")).get("hash")
        except (ValueError, AttributeError):
            old_hash = None  # unreadable state: start over with a new baseline
    try:
        folder.mkdir(parents=True, exist_ok=True)
        scratch = state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps({"url": url, "hash": new_hash}), encoding="utf-8")
        os.replace(scratch, state_file)
    except OSError as exc:
        fail(f"cannot record state in {folder}: {exc}", 1)

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
    print(json.dumps(result))


if __name__ == "__main__":
    main()
