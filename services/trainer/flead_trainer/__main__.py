"""`python -m flead_trainer`."""

from flead_trainer.main import main

main()
