"""Test helpers for users and adapter authors: stateful vendor mock servers and the
conformance suite."""
