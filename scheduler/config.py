"""Settings: environment variables `SCHEDULER_*`, then `scheduler.toml` in the
working directory, then defaults. The database defaults to a SQLite file here."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DB = "sqlite:///scheduler.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCHEDULER_", toml_file="scheduler.toml", extra="ignore"
    )

    db: str = DEFAULT_DB
    #: Extra folders searched for post templates before the bundled ones.
    templates: list[Path] = []
    #: How long a daemon owns a post it claimed before another may take it back.
    lease_seconds: float = 120.0
    #: How often a daemon looks for posts added by other processes.
    sweep_seconds: float = 30.0
    #: Sends attempted before a post that keeps failing is marked failed.
    max_attempts: int = 5
    #: First retry delay; doubles each attempt, with jitter.
    retry_base_seconds: float = 30.0
    #: Seconds a late post may still go out when a daemon comes back.
    grace_seconds: float = 3600.0
    #: Concurrent sends per channel; a channel whose endpoint hangs holds only
    #: its own sends, never another channel's.
    channel_concurrency: int = 4
    #: Sends in flight across all channels of one daemon. More would only wait
    #: in the HTTP client's connection pool, where their leases run out.
    max_in_flight: int = 100
    #: Seconds one HTTP request to a platform may take before it counts as lost.
    request_timeout_seconds: float = 20.0
    #: Posts planned for any channel are drafts until a person approves them
    #: (`scheduler review`); a channel's own --review/--no-review overrides it.
    review: bool = False
    #: apprise URLs told when a post fails, is unknown, missed or held, or a
    #: channel is paused for bad credentials (mailto://, ntfy://, slack://, json://...).
    notify_urls: list[str] = []
    #: A URL that gets a JSON POST at each step of a post's life (created,
    #: approved, sent, failed); None: off.
    lifecycle_webhook: str | None = None
    #: Deliveries of one notification tried before it is given up.
    notify_max_attempts: int = 8
    #: First wait before a notification that did not get through is tried again (doubles).
    notify_retry_seconds: float = 30.0
    #: Feeds polled at once by one daemon.
    feed_concurrency: int = 20
    #: Source watch: seconds between re-checks of one article's page.
    watch_seconds: float = 3600.0
    #: Source watch may re-check pages on non-public addresses (intranet sources).
    watch_allow_private: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(**overrides: object) -> Settings:
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
