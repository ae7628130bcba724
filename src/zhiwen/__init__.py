"""Zhiwen (智问): a self-hosted bilingual customer-service assistant."""

__version__ = "0.1.0"
