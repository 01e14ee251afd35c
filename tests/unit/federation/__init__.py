"""Unit tests of flead.federation."""
