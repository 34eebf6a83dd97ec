"""Default settings; every one can be overridden from the environment."""

# Embedded development defaults: `make run` needs no Redis, PostgreSQL or Twilio.
DEFAULT_DATABASE_URL = "sqlite:///instance/puente.db"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
# The local fake of Twilio's API mounted on the dev app (the "outbox").
DEFAULT_DEV_TWILIO_API_PATH = "/fake-twilio"
DEFAULT_DEV_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_DEV_AUTH_TOKEN = "dev-auth-token-not-secret"
DEFAULT_DEV_SMS_FROM = "+15005550006"
DEFAULT_DEV_WHATSAPP_FROM = "whatsapp:+15005550006"

DEFAULT_LANGUAGE = "en"  # used when nothing tells us a contact's language
DEFAULT_ORG_NAME = "Puente"
# Inbound bodies over this size get 413: Twilio's own requests are a few KB.
DEFAULT_MAX_WEBHOOK_BYTES = 64 * 1024
# WhatsApp's customer-service window, from the contact's last inbound message.
WHATSAPP_WINDOW_HOURS = 24
