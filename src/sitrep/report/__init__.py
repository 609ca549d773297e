"""A finished run as one self-contained review page (`sitrep report`), beside `export/` and
`evaluate/`: `data` (the run directory read into the page's data: articles, records, evidence
spans in the browser's UTF-16 offsets, the evidence that cannot be placed, merged events,
failures) and `page` (the HTML, from the templates in `templates/`, with its CSS, script and
data inline so that it works offline)."""
