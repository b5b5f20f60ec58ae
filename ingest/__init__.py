"""Ingestion: load files, normalise their text, chunk it and index it in ``kb``'s store."""
