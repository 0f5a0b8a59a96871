"""Offline ingestion: files → image/edge/text/tags vectors → the store. Entry points in qdrant/."""
