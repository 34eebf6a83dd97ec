"""Organizers' accounts: users and roles, passwords, sign-in throttling, the audit log."""
