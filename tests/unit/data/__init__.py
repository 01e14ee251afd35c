"""Unit tests of flead.data."""
