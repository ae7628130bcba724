"""Review import, sentiment models and their releases, insights, topics and charts."""
