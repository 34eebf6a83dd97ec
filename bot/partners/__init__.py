"""Partner organizations of the coalition: who they are, their keywords, their members."""
