"""The live tier: sitrep against a real model server (`pytest -m live`)."""
