"""Tracked links: a broadcast's URLs become per-recipient short links on our own domain.

`codes` is pure (finding URLs, the signed codes, telling a preview fetcher from a
person); `models` and `clicks` keep a broadcast's links and each person's first click.
"""
