"""Text handling shared by ingestion and retrieval: decoding, normalisation, tokens, sentences, chunks."""
