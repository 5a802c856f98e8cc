"""scheduler: turn news articles into social media posts and publish each exactly once."""

__version__ = "0.1.0"

#: Sent with every request the scheduler makes (some platforms, Discord among
#: them, refuse or throttle requests that do not say what sends them).
USER_AGENT = f"scheduler/{__version__}"
