"""Digests: claim a period, rank, render through a channel, deliver, record.

run.py      one digest, one subscriber's, or every due one (claim, render, deliver, record)
store.py    digest and item rows: claims, outcomes, the entries votes point at
period.py   which period a subscription's digest covers
display.py  what a digest item shows (authors, snippet, links), shared by every channel
batch.py    what one delivery run shares between digests (clock, connections)
"""
