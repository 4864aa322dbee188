"""The sample knowledge base the eval retrieves from, generated from one seed.

`world` is the fictional company (its systems and the values drawn for them), `runbooks`
one runbook per failure mode of a system, with each mode's English and Chinese text in
`trust`, `capacity` and `coordination`; `articles` the help-center articles per system,
`handwritten` the documents written out by hand, `assemble` the whole set in order,
`document` a document and its Markdown, `cases` the eval's questions. The command that
writes them is `bot.evaluation.knowledge_generate`.
"""
