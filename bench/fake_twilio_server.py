"""Serve the fake Twilio API for a benchmark and print its counters every second.

    .venv/bin/python bench/fake_twilio_server.py --port 5001 --latency 0.05 --rate 10

Point the bot at it (TWILIO_API_URL=http://127.0.0.1:5001), run a broadcast,
and watch "max/s" per sender: above the sender's real rate means the throttle
is not working; "429s" counts requests the fake refused for going too fast.
"""

from __future__ import annotations

import argparse
import time

from bot.channels.fake_twilio import fake_state, run_fake_twilio, stop_fake_twilio


def main() -> None:
    """Run until Ctrl-C, printing one stats line per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per API request")
    parser.add_argument("--rate", type=int, default=None, help="messages/s per sender")
    args = parser.parse_args()
    server, thread, base_url = run_fake_twilio(
        args.host, args.port, latency_s=args.latency, rate_per_s=args.rate
    )
    fake = fake_state(server.app)
    print(f"fake Twilio on {base_url}", flush=True)
    try:
        while True:
            time.sleep(1)
            stats = fake.stats()
            senders = ", ".join(
                f"{name}: {s['count']} sent, max/s {s['max_per_second']}"
                for name, s in stats["senders"].items()
            )
            print(f"total {stats['total']}, 429s {stats['throttled']}; {senders}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop_fake_twilio(server, thread)


if __name__ == "__main__":
    main()
