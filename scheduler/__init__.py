"""scheduler: turn news articles into social media posts and publish each exactly once."""

__version__ = "0.1.0"

#: Sent with every request the scheduler makes: platforms ask clients to say
#: what they are (Discord's API asks every client for a User-Agent).
USER_AGENT = f"scheduler/{__version__}"
