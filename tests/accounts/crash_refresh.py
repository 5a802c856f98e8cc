"""Run by test_refresh.py: refresh a channel's tokens and die by SIGKILL after
the rotated tokens are written in the open transaction, before the commit
(the worst moment: the server has rotated, the database has not committed).

    python crash_refresh.py DB_URL CHANNEL
"""

from __future__ import annotations

import os
import signal
import sys

from sqlmodel import Session, select

from scheduler.accounts import tokens
from scheduler.storage import database
from scheduler.storage.models import Channel

written = tokens._store_refreshed


def write_then_die(*args, **kwargs):
    written(*args, **kwargs)
    print("received and written, not committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


tokens._store_refreshed = write_then_die
engine = database.make_engine(sys.argv[1])
with Session(engine) as session:
    channel = session.exec(select(Channel).where(Channel.name == sys.argv[2])).one()
    session.expunge(channel)
tokens.ChannelTokens(engine, channel).current()
print("not killed", flush=True)
