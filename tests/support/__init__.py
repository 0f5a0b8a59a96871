"""Helpers the tests import: tiny settings, synthetic pictures, rigs. Fixtures stay in the
conftests; anything a test module imports by name lives here."""
