"""FLEAD benchmarks: each suite prints its figure beside a same-run baseline."""
