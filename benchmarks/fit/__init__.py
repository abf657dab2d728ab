"""The fit benchmark behind ``benchmarks/bench_fit.py``, one module per concept.

``problem`` (the seeded synthetic corpus), ``timing`` (clean-run timing on a shared
machine), ``memory`` and ``memory_cases`` (peak RSS), ``reference`` (nudge-ft side by
side), ``profiling`` (where a fit's time goes), ``measure`` (one corpus size),
``scifact`` (the real corpus), ``report`` (the docs page) and ``cli`` (the command).
"""
