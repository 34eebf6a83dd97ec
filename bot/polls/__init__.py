"""Polls on broadcasts: up to 10 choices, each answer matched forgivingly, tallied."""
