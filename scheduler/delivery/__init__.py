"""Delivery: getting due posts out, exactly once.

- `daemon`: the long-running process (APScheduler timers, signals, wake-ups).
- `dispatcher`: the send loop (tasks in flight, outcomes classified).
- `exchange`: the loop's one conversation with the database per pass.
- `claims`, `attempts`: the statements that claim, lease and record.
- `outgoing`, `events`: the adapter's input and what happened to a post.
- `wakeups`: PostgreSQL LISTEN/NOTIFY between daemons; `reconcile`: settling
  posts whose outcome is unknown.
"""
