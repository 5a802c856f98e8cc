"""Previews: what would be sent, without sending it. The terminal, JSON and
HTML previews of posts (`preview`, `terminal`, `html`), the daemon's timeline
on a virtual clock (`simulation`) and why a post goes out when it does
(`explain`).
"""
