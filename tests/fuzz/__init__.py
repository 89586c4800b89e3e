"""Generated-input tests of the public surfaces: the HTTP API (from its OpenAPI document) and the CLI's flags.

Bounded for the normal suite; ``INBOX_FUZZ_EXAMPLES`` raises the bound for a long run (see docs/testing.md).
"""
