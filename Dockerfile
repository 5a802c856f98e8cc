# Runs the publishing daemon. Mount a volume at /data for the SQLite file, or set
# SCHEDULER_DB to a PostgreSQL URL; pass channel credentials as environment
# variables named by each channel's --secret-env.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SCHEDULER_DB=sqlite:////data/scheduler.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY scheduler ./scheduler
COPY templates ./templates
COPY db ./db
RUN pip install --no-cache-dir '.[postgres]' \
    && useradd --create-home --uid 10001 scheduler \
    && mkdir -p /data && chown scheduler /data

USER scheduler
WORKDIR /data
VOLUME ["/data"]
# Migrate on start (a no-op when current), then publish until SIGTERM.
CMD ["sh", "-c", "scheduler init && exec scheduler daemon"]
