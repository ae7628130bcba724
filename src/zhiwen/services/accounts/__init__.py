"""API keys and people's accounts."""
