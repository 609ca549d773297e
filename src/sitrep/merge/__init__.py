"""Incidents of many articles grouped as events (`sitrep merge`): `mentions` (what is compared),
`rules` (when two mentions are one event), `cluster` (blocks and groups), `build` (an event from
its members), `store` (`events.jsonl` and the merge state)."""
