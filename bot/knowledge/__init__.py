"""The team's own knowledge: sources of documents, one index, retrieval and who may see what.

Owns: the `Source` interface and its implementations (`sources/`), the visibility
rule (which conversation may be answered from which document), the two stores
behind one protocol (`store.py`: `index.py`, SQLite FTS5 and vectors, one file per
replica; `postgres.py`, one PostgreSQL database replicas share), their fusion,
chunking, embeddings and sync, and how an answer's citation markers are read
(`citations.py`, ASCII and full-width alike).
May import: `bot.errors`, `bot.safety` (documents are redacted before they are kept),
`bot.printable_urls` (a store's address named without its password).
"""
