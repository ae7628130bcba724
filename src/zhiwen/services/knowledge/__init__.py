"""What the assistant knows and how it is found: ingestion, embeddings, retrieval, fusion,
re-ranking, curated answers."""
