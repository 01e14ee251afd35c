"""Unit tests of the flead CLI."""
