"""The desk: what a person does to posts in the queue (add, show, move,
cancel, retry, list), before the daemon takes them.
"""
