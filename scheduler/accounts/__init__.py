"""Accounts: channels (a platform adapter, its options, time zone, slots and
where its credential lives), and the adapter built for each one.
"""
