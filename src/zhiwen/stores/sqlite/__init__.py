"""The embedded backend: one SQLite file (WAL) holds documents, FTS5 keyword index, vectors, jobs and answers."""
