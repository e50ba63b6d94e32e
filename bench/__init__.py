"""Benchmarks of the decision engine: a seeded organisation generator and runners.

Run ``python -m bench.run --quick`` (``make bench``) or ``--full``
(``make bench-full``). This folder is not part of the wheel.
"""
