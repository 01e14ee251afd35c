"""`python -m flead_producer`."""

from flead_producer.main import main

main()
