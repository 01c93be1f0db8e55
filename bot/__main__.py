"""`python -m bot` is `release-captain`."""

from bot.cli import main

main()
