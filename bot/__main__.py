"""`python -m bot …` is `paperbot …` (the Dockerfile and the systemd unit run `python -m bot serve`)."""

from bot.cli import main

main()
