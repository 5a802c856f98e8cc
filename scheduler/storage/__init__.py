"""Storage: the SQLModel tables (`models`), the engine for SQLite and
PostgreSQL with its transient-error retries (`database`), the migrations
runner (`migrations`) and driver-level statements for hot paths (`driver_sql`).
"""
