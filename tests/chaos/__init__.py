"""The chaos suite: many tasks run by two hosts on one store while hosts and runners are killed at random.

``python -m tests.chaos.run --help`` is the long form; ``tests/chaos/test_chaos.py`` runs a short form on every
backend. docs/reliability.md says what it checks and publishes its figures.
"""
