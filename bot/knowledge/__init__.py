"""The team's own knowledge: sources of documents, one index, retrieval and who may see what.

Owns: the `Source` interface and its implementations (`sources/`), the visibility
rule (which conversation may be answered from which document), the index
(`index.py`: SQLite FTS5 and vectors, fused), chunking, embeddings and sync, and
how an answer's citation markers are read (`citations.py`, ASCII and full-width alike).
May import: `bot.errors`, `bot.safety` (documents are redacted before they are kept).
"""
