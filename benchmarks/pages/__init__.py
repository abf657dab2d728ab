"""The generated parts of the benchmark pages, each rendered from ``benchmarks/results``.

``blocks`` fills the marked blocks of a hand-written page; ``scale``, ``floor``,
``store_native``, ``adapters``, ``query_embedding`` and ``scripts`` render the blocks of
``docs/scale.md``, ``docs/store-native.md``, ``docs/benchmarks-adapters.md`` and
``benchmarks/README.md``; ``provenance`` says what a results file recorded about its
run. ``python -m benchmarks.report`` writes them all.
"""
