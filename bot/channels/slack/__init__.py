"""The Slack front end (slack-bolt): `/papers`, the subscribe modal, vote buttons, reactions, App Home.

    app.py       create_slack_app, slack_routes (POST /slack/events), connect_socket_mode
    commands.py  /papers <verb>          actions.py  button clicks
    views.py     modal submissions       events.py   reactions, App Home opened
    modal.py, home.py, text.py, scope.py: pure building and parsing helpers
    failures.py  a failure after the ack: logged, and the user told what failed and what to do

Every listener (wrapped by failures.reported) acks first and calls the `Paperbot` service; rendering
of digests is bot.channels.slack.blocks, posting them is bot.channels.slack.post.
"""

from bot.channels.slack.app import EVENTS_PATH, connect_socket_mode, create_slack_app, slack_routes

__all__ = ["EVENTS_PATH", "create_slack_app", "slack_routes", "connect_socket_mode"]
