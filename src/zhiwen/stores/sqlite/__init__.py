"""The embedded backend: one SQLite file (WAL) holds documents, the FTS5 index, vectors, jobs and answers."""
