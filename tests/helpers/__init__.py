"""Helpers shared by the tests (plain modules, imported as ``tests.helpers.<area>``)."""
