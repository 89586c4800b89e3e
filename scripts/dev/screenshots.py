"""Screenshots of every dashboard page, at a desktop's and a phone's width, into docs/dashboard/.

``python -m scripts.dev.screenshots [--out docs/dashboard]`` fills a fresh demo store (scripts/dev/demo_store.py),
serves the host's app on loopback, signs in through the page with Debian's chromium driven by Playwright
(``pip install playwright pillow``; never ``playwright install``: it uses /usr/bin/chromium) and saves one PNG
per page and width. With Pillow the PNGs are reduced to a 64-colour palette, which keeps them small.
"""

from __future__ import annotations

import argparse
import io
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from scripts.dev.demo_store import fill
from sweeper.http.app import HostState, make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = {"desktop": (1280, 820), "phone": (390, 844)}
TOKEN = "demo-admin-token-for-the-screenshots"


@contextmanager
def serving(app: object) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _save(page: Page, path: Path) -> int:
    raw = page.screenshot(full_page=False)
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(raw)
        return len(raw)
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=64)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    path.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


def shoot(out: Path) -> list[tuple[str, int]]:
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="inbox-demo-"))
    inbox = fill(home)
    api = inbox.acting_as("api")
    failed_run = next(r for r in api.runs("check backups", limit=50) if r.outcome == "script_error")
    pages = {
        "tasks": "/tasks",
        "timeline": "/timeline",
        "run": f"/runs/{failed_run.id}",
        "messages": "/messages",
        "outbox": "/outbox",
        "events": "/events",
        "graph": "/graph",
        "stats": "/stats",
        "chat": "/chat",
        "audit": "/audit",
    }
    saved = []
    with serving(make_app(HostState(inbox=api, admin_token=TOKEN), runner_routes=False)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width_name, (width, height) in WIDTHS.items():
            context = browser.new_context(
                viewport={"width": width, "height": height}, timezone_id="Europe/Paris", device_scale_factor=1
            )
            page = context.new_page()
            page.goto(f"{url}/signin")
            if width_name == "desktop":
                saved.append(("signin", _save(page, out / "signin.png")))
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url("**/tasks")
            for name, path in pages.items():
                page.goto(url + path)
                page.wait_for_load_state("networkidle")
                target = out / f"{name}-{width_name}.png"
                saved.append((target.name, _save(page, target)))
            context.close()
        browser.close()
    inbox.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard"))
    args = parser.parse_args()
    saved = shoot(args.out)
    for name, size in saved:
        print(f"{name:<24} {size / 1024:7.1f} KiB")
    print(f"{'total':<24} {sum(size for _, size in saved) / 1024:7.1f} KiB")


if __name__ == "__main__":
    main()
