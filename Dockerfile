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
# The project by its path; its dependencies' version ranges are in pyproject.toml.
RUN pip install --no-cache-dir "./[postgres]" \
    && groupadd --gid 10001 scheduler \
    && useradd --create-home --uid 10001 --gid 10001 scheduler \
    && mkdir -p /data && chown 10001:10001 /data

# Numeric, so a runtime that refuses root (Kubernetes runAsNonRoot) can verify
# it without reading the image's /etc/passwd.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# Healthy while the database answers; `scheduler status` exits non-zero when not.
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["scheduler", "status"]
# Migrate on start (a no-op when current), then publish until SIGTERM.
CMD ["sh", "-c", "scheduler init && exec scheduler daemon"]
