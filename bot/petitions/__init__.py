"""Petitions and sign-on letters signed by text, one signature per person (issue 12)."""
