"""A run measured against gold, field by field: `gold` (gold and runs read and checked by the
record models), `normalize` (names folded for comparison), `align` (similarities and the
optimal pairing of records), `fields` (each field of a matched pair scored), `score`
(precision, recall, F1 and field scores over the articles), `report` (JSON, Markdown, tables)."""
