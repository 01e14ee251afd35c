"""`python -m flead_aggregator`."""

from flead_aggregator.main import main

main()
