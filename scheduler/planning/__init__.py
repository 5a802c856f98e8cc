"""Planning: turning sources into queued posts.

- `slots`: posting slots (`mon-fri 09:00`) and the next free ones.
- `plan`: quotes and milestones of an article into posts over the slots.
- `rules`, `recurring`, `evergreen`, `anniversaries`: posts a channel plans
  for itself (evergreen recycling, on this day, throwbacks, countdowns).
- `expiry`: when a post is too late to send; `csv_import`, `bulk`: posts from
  a CSV file and the batch insert behind it.
"""
