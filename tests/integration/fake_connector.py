#!/usr/bin/python3
"""fake_connector — stands in for mqgate-connector where a test needs a heartbeat text that a
real connector cannot be made to send on cue (a connection "up" that moves nothing, journal
counters). It speaks the control protocol on fd 3 (common/mqg_ctl.h: 4-byte big-endian length
of kind + body, 1-byte kind): READY at once, then a HEARTBEAT every 0.3 s whose text is the
content of $FAKE_STATUS_DIR/<connection key with / as _>.status (re-read each time;
"state=connecting" while there is none). It exits when the control channel closes or on
SIGTERM. Used by it_ops.py, copied into a bin directory as mqgate-connector."""
import os
import select
import signal
import struct
import sys
import time

READY, HEARTBEAT = 2, 3


def send(kind, body=b""):
    os.write(3, struct.pack(">IB", len(body) + 1, kind) + body)


def main():
    key = sys.argv[sys.argv.index("--key") + 1]
    path = os.path.join(os.environ.get("FAKE_STATUS_DIR", "/nonexistent"),
                        key.replace("/", "_") + ".status")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    send(READY)
    next_hb = 0.0
    while True:
        now = time.monotonic()
        if now >= next_hb:
            try:
                with open(path, "rb") as f:
                    text = f.read().strip()
            except OSError:
                text = b"state=connecting"
            send(HEARTBEAT, text)
            next_hb = now + 0.3
        r, _, _ = select.select([3], [], [], 0.1)
        if r and not os.read(3, 65536):
            return 1  # the supervisor is gone


if __name__ == "__main__":
    sys.exit(main())
