"""``python -m scripts.fake_provider [--port 0]``: serve the fake model provider on 127.0.0.1 until killed.

The first stdout line is ``listening on http://127.0.0.1:PORT``; script it over ``POST /_fake/script``.
"""

from __future__ import annotations

import argparse
import signal
import threading

from scripts.fake_provider.server import FakeProvider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.fake_provider", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--api-key", default=None, help="require this key (Bearer / x-api-key)")
    parser.add_argument("--model", action="append", dest="models", help="accepted model (repeatable)")
    parser.add_argument("--any-model", action="store_true", help="accept every model name")
    parser.add_argument("--default-text", default="ok", help="the answer when nothing is scripted")
    args = parser.parse_args(argv)
    models = None if args.any_model else (args.models or ["fake-model"])
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    fake = FakeProvider(api_key=args.api_key, models=models, default_text=args.default_text, port=args.port)
    fake.start()
    print(f"listening on {fake.url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
