"""Schedule: when digests, ingests and housekeeping run, in `paperbot serve` (embedded mode) or in
`paperbot worker` processes (distributed mode).

    scheduler.py     embedded mode: APScheduler in-process runs the tick (bot.digests.tick) every minute
    tasks.py         distributed mode: the same tick and the deliveries as procrastinate tasks
    jobs.py          running one job and recording its outcome
    leader.py        one scheduler per database (PostgreSQL advisory lock or a file lock)
    housekeeping.py  retention of old listings and finished rows
"""
