"""Ingest: feeds in, stored listings out.

run.py     ingest one source and record its outcome (the stage's entry point)
fetch.py   HTTP and file fetching: timeouts, retries, conditional GET, arXiv courtesy delay
store.py   dedup and merge of listings into the database
sources/   one parser per feed family, the format detected from content
"""
