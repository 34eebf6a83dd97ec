"""Every default in one place: settings (each can be overridden from the environment,
see bot/config.py, which builds the config the rest of the bot reads) and the flow
files' optional keys.
"""

from datetime import timedelta
from pathlib import Path

# Embedded development defaults: `make run` needs no Redis, PostgreSQL or Twilio.
DEFAULT_DATABASE_URL = "sqlite:///instance/puente.db"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
# The local fake of Twilio's API mounted on the dev app (the "outbox").
DEFAULT_DEV_TWILIO_API_PATH = "/fake-twilio"
DEFAULT_DEV_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_DEV_AUTH_TOKEN = "dev-auth-token-not-secret"
DEFAULT_DEV_SMS_FROM = "+15005550006"
DEFAULT_DEV_WHATSAPP_FROM = "whatsapp:+15005550006"
DEFAULT_DEV_SECRET_KEY = "dev-only-not-secret"  # production requires its own
DEFAULT_ORG_SUPPORT_CONTACT = "support@example.org"
DEFAULT_LOG_LEVEL = "INFO"

DEFAULT_LANGUAGE = "en"  # used when nothing tells us a contact's language
DEFAULT_ORG_NAME = "Puente"
# Inbound bodies over this size get 413: Twilio's own requests are a few KB.
DEFAULT_MAX_WEBHOOK_BYTES = 64 * 1024
# WhatsApp's customer-service window, from the contact's last inbound message.
WHATSAPP_WINDOW_HOURS = 24

# Flows: the shipped conversations (FLOWS_DIR replaces them), and how long a flow
# waits for an answer when its file sets no expire_after.
DEFAULT_FLOWS_DIR = Path(__file__).resolve().parent.parent / "flows"
DEFAULT_FLOW_EXPIRE_AFTER = timedelta(hours=23)

# Broadcasts (bot/broadcasts): quiet hours in the contact's own time zone, as
# hours of the day [start, end); Twilio advises 9:00 for Mexico.
DEFAULT_QUIET_HOURS_START = 8
DEFAULT_QUIET_HOURS_END = 21
DEFAULT_QUIET_HOURS_START_MX = 9
# Messages per second per sender, by the kind of SMS number (DOMAIN.md rates).
SENDER_RATES_PER_S = {"long_code": 1, "toll_free": 3, "short_code": 100}
DEFAULT_SMS_SENDER_TYPE = "long_code"
DEFAULT_WHATSAPP_RATE_PER_S = 80
# The throttle's window is one second plus this margin, so the jitter between
# taking a slot and the request reaching Twilio never puts N+1 in one second.
DEFAULT_THROTTLE_MARGIN_MS = 40
DEFAULT_BROADCAST_BATCH_SIZE = 500  # deliveries per send job
DEFAULT_SEND_CONNECTIONS = 256  # most API calls in flight in one send job (1,000/s x 0.2 s)
DEFAULT_RECONCILE_INTERVAL_S = 15  # how often a worker re-queues what the database says is due
DEFAULT_WHATSAPP_PAUSE_S = 600  # bulk pause on a sender after 63018/63038
# A send whose process died is settled (asked of Twilio) after this long: > 2x the API timeout.
DEFAULT_SETTLE_AFTER_S = 30
# Estimated prices (USD) shown before sending; set yours from Twilio's pricing page.
DEFAULT_SMS_SEGMENT_COST_US = 0.0083
DEFAULT_SMS_SEGMENT_COST_MX = 0.0957
DEFAULT_WHATSAPP_MESSAGE_COST = 0.0050

# Reports (bot/reports): after this many days the worker purges a report's
# personal fields (reporter, answers, place in their words, exact pin, notes).
DEFAULT_REPORT_RETENTION_DAYS = 365
# Photos, audio and video a reporter sends: kept in this folder (files named by a
# random key, never by a number), at most this size (WhatsApp's own limit for
# audio and video is 16 MB; larger files are refused and the reporter told).
DEFAULT_MEDIA_DIR = "instance/media"
DEFAULT_MEDIA_MAX_BYTES = 16 * 1024 * 1024

# The right to be erased (bot.erasure)
DEFAULT_ERASURE_CONFIRM_MINUTES = 15  # BORRAR must come this soon after BORRAR MIS DATOS
