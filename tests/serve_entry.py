"""`python -m tests.serve_entry [serve options]`: the real `bot.serve.main` on a test world's bot.

The served process reuses what the test stored (hashed embeddings under the model name "test-hash"),
so it never loads a model, and ranks with the digest tests' stand-in, exactly as the in-process tests
built with `tests.digest.world` do.
"""

from __future__ import annotations

import sys

from bot.config import Settings
from bot.serve import main
from bot.service import Paperbot
from tests.digest.world import HashEncoder, StandInBot


def make_bot(settings: Settings) -> Paperbot:
    return StandInBot(settings, encoder=HashEncoder())


if __name__ == "__main__":
    sys.exit(main(make_bot=make_bot))
