"""Schedule: when digests, ingests and housekeeping run in `paperbot serve`.

    scheduler.py     APScheduler in-process: jobs rebuilt from the subscriptions in the database
    jobs.py          running one job and recording its outcome
    leader.py        one scheduler per database (PostgreSQL advisory lock or a file lock)
    triggers.py      a subscription's cron trigger (time, time zone, frequency)
    catchup.py       sending missed and retryable digests
    housekeeping.py  retention of old listings and finished rows
"""
