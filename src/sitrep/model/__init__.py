"""The data model: closed vocabularies, token usage, articles, the drafts a model fills, the
final records, and their JSON Schemas. Pure data and validation; no I/O beyond reading a file."""
