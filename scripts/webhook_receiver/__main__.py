"""``python -m scripts.webhook_receiver [--port 0] [--refuse SHARE]``: a recording receiver until interrupted;
each request is printed as one JSON line (time, path, Idempotency-Key, status)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from scripts.webhook_receiver.server import Receiver, refusing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--refuse", type=float, default=0.0, help="share of requests answered 503")
    args = parser.parse_args()
    with Receiver(refusing(args.refuse), port=args.port) as receiver:
        print(f"listening on {receiver.url()}", flush=True)
        shown = 0
        try:
            while True:
                time.sleep(0.2)
                for got in receiver.received[shown:]:
                    line = {"at": got.at, "path": got.path, "key": got.key, "status": got.status}
                    sys.stdout.write(json.dumps(line) + "\n")
                shown = len(receiver.received)
                sys.stdout.flush()
        except KeyboardInterrupt:
            return


if __name__ == "__main__":
    main()
