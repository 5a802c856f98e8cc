"""scheduler: turn news articles into social media posts and publish each exactly once."""

__version__ = "0.1.0"
