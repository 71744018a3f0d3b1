"""Server: the long-running process and its operator views.

serve.py   `paperbot serve`: web app + scheduler until SIGTERM
web.py     the ASGI app: routes and error pages (email pages live in bot.channels.email.pages)
ops.py     /healthz and /metrics
status.py  `paperbot status`: sources, next runs, recent and failed digests
"""
