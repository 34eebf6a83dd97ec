"""Where things are, from any test folder: the repository, the shipped flows, fixtures."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FLOWS = ROOT / "flows"  # the shipped conversations
FIXTURES = TESTS / "fixtures"  # saved provider payloads and CSV files
CONTRACT = TESTS / "contract"  # Twilio's OpenAPI specs
