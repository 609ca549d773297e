"""Extraction of one article: prompts (`prompts`), the request builder (`request`), the
conversation step that turns an answer into records or a re-ask (`conversation`), the checks
in code that complete a draft (`assemble`), instructor's pieces (`instructor_api`), and the
`Extractor` that drives them through the send loop (`extractor`)."""
