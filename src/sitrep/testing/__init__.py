"""Test tooling, shipped for sitrep's own tests and benchmarks and for anyone testing code that
calls sitrep: OpenAI wire-format responses (`completions`) and a fake OpenAI-compatible server
on loopback (`fakeserver`, which needs the extra: `pip install 'sitrep[testing]'`)."""
