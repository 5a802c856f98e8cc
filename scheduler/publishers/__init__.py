"""Publishers: one adapter per platform on a shared base (see `base.py`)."""

from scheduler.publishers.base import (
    ChannelInfo,
    Measure,
    OutgoingPost,
    PreparedRequest,
    Publisher,
    SendResult,
)
from scheduler.publishers.registry import available, publisher_class

__all__ = [
    "ChannelInfo",
    "Measure",
    "OutgoingPost",
    "PreparedRequest",
    "Publisher",
    "SendResult",
    "available",
    "publisher_class",
]
