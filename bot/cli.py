"""`paperbot` command line (typer). Heavy modules are imported inside commands so --help stays fast."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from bot.vocab import plural

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.records import (
        DigestResult,
        IngestReport,
        InterestView,
        LastDigest,
        ListingView,
        SubscriberView,
        SubscriptionView,
    )
    from bot.service import Paperbot
    from bot.views import Rows
    from bot.vocab import Frequency

__all__ = ["app", "main"]

app = typer.Typer(
    help="paperbot: new research papers matched to your interests, delivered to Slack or email.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
sources_app = typer.Typer(help="Manage the configured feeds.", no_args_is_help=True)
index_app = typer.Typer(help="Maintain the vector index.", no_args_is_help=True)
profile_app = typer.Typer(help="Show and edit a subscriber's interests.", no_args_is_help=True)
subscription_app = typer.Typer(help="Change when and how a digest is delivered.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(subscription_app, name="subscription")
app.add_typer(index_app, name="index")
app.add_typer(profile_app, name="profile")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


# ---- plumbing ---------------------------------------------------------------------------------


def fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def service() -> Iterator[Paperbot]:
    """A Paperbot for one command; domain errors become `Error: ...` and exit code 1."""
    from bot.config import load_settings
    from bot.errors import PaperbotError
    from bot.service import Paperbot

    try:
        bot = Paperbot(load_settings())
    except PaperbotError as exc:
        fail(exc.message)
    try:
        yield bot
    except PaperbotError as exc:
        fail(exc.message)
    finally:
        bot.close()


@contextmanager
def reading() -> Iterator[tuple[Settings, Rows]]:
    """The settings and plain SQL (bot.views) for a command that reads, or records a vote: no ORM and
    no model are loaded, so it answers at once. A new or older database is set up first, as always."""
    from bot.config import load_settings
    from bot.errors import PaperbotError
    from bot.views import open_views

    try:
        settings = load_settings()
        with open_views(settings) as rows:
            yield settings, rows
    except PaperbotError as exc:
        fail(exc.message)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar fed by the service's (task, done, total) callbacks; off for --json."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        tasks: dict[str, Any] = {}

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = progress.add_task(task, total=total)
            progress.update(tasks[task], completed=done, total=total)

        yield update


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r} is not a date; use YYYY-MM-DD or an ISO 8601 timestamp")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def print_ingest(report: IngestReport) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    # Long paths and URLs fold onto more lines: cut at 80 columns they all looked the same.
    source = Column("source", overflow="fold")
    table = Table(source, "status", "family", "new", "updated", "duplicate", "skipped", "error")
    for r in report.sources:
        counts = (str(r.new), str(r.updated), str(r.duplicate), str(r.skipped))
        table.add_row(r.source, r.status, r.family or "", *counts, r.error or "")
    console = Console()
    console.print(table)
    totals = report.totals
    sources = plural(len(report.sources), "source")
    console.print(
        f"ingested {sources}: {totals['new']} new, {totals['updated']} updated, "
        f"{totals['duplicate']} duplicate, {totals['skipped']} skipped as unreadable, "
        f"{totals['failed']} failed; embedded {report.embedded}"
    )
    for r in report.sources:
        if r.skipped:
            typer.echo(
                f"Warning: {r.source}: skipped {r.skipped} records that could not be read (no title)",
                err=True,
            )


def print_listings(listings: list[ListingView]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "published", "title", "authors", "source", show_lines=False)
    for item in listings:
        authors = ", ".join(item.authors[:3]) + (" et al." if len(item.authors) > 3 else "")
        published = item.published.date().isoformat() if item.published else ""
        table.add_row(str(item.id), published, item.title, authors, ",".join(item.sources))
    Console().print(table)


# ---- commands ---------------------------------------------------------------------------------


@app.command()
def init(json_out: JsonOpt = False) -> None:
    """Create the data directory and database (safe to run again)."""
    with service() as bot:
        where = {
            "data_dir": str(bot.settings.data_dir.resolve()),
            "database": bot.database_url,
        }
    if json_out:
        print_json(where)
    else:
        typer.echo(f"paperbot is ready: data in {where['data_dir']}, database {where['database']}")


@app.command()
def ingest(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="URLs, files or shortcuts (arxiv:cs.LG); default: configured sources."),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Ingest the bundled sample feed (321 real papers).")
    ] = False,
    embed: Annotated[bool, typer.Option("--embed/--no-embed", help="Embed new listings right away.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Fetch feeds and store new papers. Exit code 1 when any source failed."""
    from bot.records import to_json
    from bot.service import sample_feed_path

    specs = [*(sources or []), *([str(sample_feed_path())] if sample else [])]
    with service() as bot:
        if not specs and not bot.configured_sources():
            fail(
                "no sources configured: pass a URL or file, use --sample, "
                "or `paperbot sources add arxiv:cs.LG`"
            )
        with progress_bar(not json_out) as progress:
            report = bot.ingest(sources=specs or None, embed=embed, progress=progress)
    if json_out:
        print_json(to_json(report))
    else:
        print_ingest(report)
    if report.totals["failed"]:
        raise typer.Exit(1)


@app.command()
def listings(
    since: Annotated[
        str | None, typer.Option("--since", "-s", help="Only papers published on or after DATE.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most N papers.")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Show stored papers, newest first."""
    from bot.records import to_json
    from bot.views import count_listings, listings

    with reading() as (_, rows):
        items = listings(rows, since=parse_date(since), limit=limit)
        total = count_listings(rows) if len(items) == limit and since is None else None
    if json_out:
        print_json([to_json(item) for item in items])
    else:
        print_listings(items)
        more = f" (the newest of {total}; --limit N shows more)" if total and total > limit else ""
        typer.echo(f"{plural(len(items), 'listing')}{more}")


DEMO_EMAIL = "demo@example.org"
DEMO_INTERESTS = ("large language model reasoning", "single-cell genomics")


@app.command()
def demo(
    keep_serving: Annotated[
        bool, typer.Option("--serve", help="Afterwards keep serving: web app and scheduler on port 8000.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Try paperbot offline: ingest the bundled sample, subscribe a demo reader and write their digest to
    the file outbox (the path is printed)."""
    from bot.digests.run import run_for_subscriber
    from bot.records import to_json
    from bot.service import sample_feed_path

    with service() as bot:
        with progress_bar(not json_out) as progress:
            report = bot.ingest(sources=[str(sample_feed_path())], progress=progress)
        subscriber = bot.find_subscriber(email=DEMO_EMAIL) or bot.subscribe(
            email=DEMO_EMAIL, name="Demo reader", interests=DEMO_INTERESTS
        )
        results = run_for_subscriber(bot, subscriber_id=subscriber.id)
        outbox = sorted(bot.settings.outbox_dir.glob("*.html"), key=lambda p: p.stat().st_mtime)
    if json_out:
        print_json(
            {
                "ingest": to_json(report),
                "subscriber": subscriber.id,
                "digests": [to_json(r) for r in results],
                "outbox": [str(p) for p in outbox],
            }
        )
    else:
        print_ingest(report)
        typer.echo(f"demo subscriber {subscriber.id} ({DEMO_EMAIL}): {', '.join(DEMO_INTERESTS)}")
        print_digests(results)
        if outbox:
            typer.echo(f"digest: {outbox[-1].resolve()}")
    if keep_serving:
        serve(host="127.0.0.1", port=8000, no_schedule=False)


@sources_app.command("add")
def sources_add(
    spec: Annotated[
        str, typer.Argument(help="URL, file path, or shortcut: arxiv:cs.LG, biorxiv:genomics, hf:daily")
    ],
) -> None:
    """Add a feed to the configured set."""
    with service() as bot:
        view = bot.add_source(spec=spec)
    typer.echo(f"added source {view.id}: {view.url}")


@sources_app.command("list")
def sources_list(
    everything: Annotated[
        bool,
        typer.Option(
            "--all", help="Also removed sources and one-off ingests (`sources purge` forgets them)."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the configured sources with their last outcome."""
    from rich.console import Console
    from rich.table import Column, Table

    from bot.records import to_json
    from bot.views import configured_sources, list_sources

    with reading() as (settings, rows):
        configured = configured_sources(rows, settings.sources)
        views = list_sources(rows, configured, everything=everything)
    if json_out:
        print_json([to_json(v) for v in views])
        return
    table = Table("id", Column("url", overflow="fold"), "configured", "family", "last success", "last error")
    for v in views:
        success = v.last_success_at.isoformat(timespec="minutes") if v.last_success_at else ""
        how = "sources add" if v.enabled else "PAPERBOT_SOURCES" if v.url in configured else "no"
        table.add_row(str(v.id), v.url, how, v.kind or "", success, v.last_error or "")
    Console().print(table)
    if not views:
        typer.echo("no sources configured: `paperbot sources add arxiv:cs.LG` adds one")


@sources_app.command("remove")
def sources_remove(spec: Annotated[str, typer.Argument(help="Source id, URL or shortcut.")]) -> None:
    """Stop ingesting a source (its papers stay)."""
    with service() as bot:
        view = bot.remove_source(spec=spec)
    typer.echo(f"removed source {view.id}: {view.url}")


@sources_app.command("purge")
def sources_purge(json_out: JsonOpt = False) -> None:
    """Forget removed sources and one-off ingests with their old errors (their papers stay)."""
    from bot.records import to_json

    with service() as bot:
        views = bot.purge_sources()
    if json_out:
        print_json([to_json(v) for v in views])
        return
    for v in views:
        typer.echo(f"forgot source {v.id}: {v.url}")
    typer.echo(f"purged {plural(len(views), 'source')} that were not configured")


@index_app.command("rebuild")
def index_rebuild() -> None:
    """Embed stored listings that have no vector for the current model (after changing
    PAPERBOT_MODEL), then rebuild the FAISS index from the vectors in the database."""
    with service() as bot, progress_bar(True) as progress:
        embedded = bot.embed_stored(progress=progress)
        count = bot.rebuild_index()
    typer.echo(f"embedded {embedded} listings; index rebuilt: {count} vectors")


# ---- subscribers, profiles, recommendations ------------------------------------------------------

SubscriberArg = Annotated[int, typer.Argument(help="Subscriber id (printed by `paperbot subscribe`).")]
FrequencyOpt = Annotated[
    str | None, typer.Option("--frequency", help="daily, weekdays or weekly [new: daily].")
]
AtOpt = Annotated[str | None, typer.Option("--at", help="Local time of day, HH:MM [new: 08:00].")]
TimezoneOpt = Annotated[
    str | None, typer.Option("--timezone", "--tz", help="IANA time zone, e.g. Europe/Berlin [new: UTC].")
]
WeekdayOpt = Annotated[
    str | None, typer.Option("--weekday", help="Day of a weekly digest: monday to sunday [new: monday].")
]
SizeOpt = Annotated[int | None, typer.Option("--size", help="Papers per digest, 1-50 [new: 10].")]
AlwaysSendOpt = Annotated[
    bool | None,
    typer.Option(
        "--always-send/--only-when-good",
        help="Send a short note even on days with nothing good [new: only when good].",
        show_default=False,
    ),
]


def weekday_number(value: str | None) -> int | None:
    from bot.inputs import parse_weekday

    return None if value is None else parse_weekday(value)


def frequency_of(value: str | None) -> Frequency | None:
    from bot.vocab import parse_frequency

    return None if value is None else parse_frequency(value)


def subscription_line(sub: SubscriptionView) -> str:
    from bot.inputs import WEEKDAY_NAMES

    state = "active" if sub.active else f"paused: {sub.paused_reason}"
    when = f"weekly on {WEEKDAY_NAMES[sub.weekday]}" if sub.frequency == "weekly" else sub.frequency
    return (
        f"subscription {sub.id}: {sub.channel} {sub.target}, {when} at {sub.send_time} "
        f"{sub.timezone}, {sub.digest_size} papers, {state}"
    )


def print_subscriber(view: SubscriberView) -> None:
    from rich.console import Console

    console = Console()
    who = view.email or view.slack_channel_id or view.slack_user_id or ""
    console.print(f"[bold]subscriber {view.id}[/bold] {view.name} ({view.kind}, {who})")
    for interest in view.interests:
        seeds = (
            f" [dim]({plural(len(interest.seed_listing_ids), 'seed paper')})[/dim]"
            if interest.seed_listing_ids
            else ""
        )
        console.print(f"  interest {interest.id}: {interest.label}{seeds}")
    if not view.interests:
        console.print(f'  no interests yet: paperbot profile add-interest {view.id} "your topic"')
    for sub in view.subscriptions:
        console.print(f"  {subscription_line(sub)}", markup=False, highlight=False)
    if view.followed_authors:
        console.print(f"  follows: {', '.join(view.followed_authors)}")
    if view.muted_keywords:
        console.print(f"  mutes: {', '.join(view.muted_keywords)}")
    console.print(f"  votes: {', '.join(f'{k} {n}' for k, n in sorted(view.votes.items())) or 'none yet'}")


@app.command()
def subscribe(
    email: Annotated[str | None, typer.Option("--email", "-e", help="Deliver by email to ADDR.")] = None,
    slack_user: Annotated[
        str | None, typer.Option("--slack-user", help="Deliver as a Slack DM to user ID.")
    ] = None,
    slack_channel: Annotated[
        str | None, typer.Option("--slack-channel", help="A channel with a shared profile.")
    ] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="Display name.")] = "",
    interest: Annotated[
        list[str] | None, typer.Option("--interest", "-i", help="Free-text interest (repeatable).")
    ] = None,
    seed_paper: Annotated[
        list[str] | None,
        typer.Option(
            "--seed-paper", "-p", help="arXiv id or DOI of a paper you like (repeatable; fetched if new)."
        ),
    ] = None,
    bib: Annotated[
        Path | None, typer.Option("--bib", help="BibTeX export (Zotero, Mendeley) of papers you like.")
    ] = None,
    frequency: FrequencyOpt = None,
    at: AtOpt = None,
    timezone: TimezoneOpt = None,
    weekday: WeekdayOpt = None,
    size: SizeOpt = None,
    always_send: AlwaysSendOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a subscriber (or add to an existing one) and print its id. A new subscription is sent
    daily at 08:00 UTC with 10 papers unless told otherwise; an existing one keeps every setting
    not given here (`paperbot subscription set` changes them too)."""
    from bot.inputs import ScheduleChange
    from bot.records import to_json

    with service() as bot:
        schedule = ScheduleChange(
            frequency=frequency_of(frequency),
            send_time=at,
            timezone=timezone,
            weekday=weekday_number(weekday),
            digest_size=size,
            always_send=always_send,
        )
        view = bot.subscribe(
            email=email,
            slack_user_id=slack_user,
            slack_channel_id=slack_channel,
            name=name,
            interests=interest or (),
            seed_papers=seed_paper or (),
            bib=read_file(bib) if bib else None,
            schedule=schedule,
        )
    if json_out:
        print_json(to_json(view))
        return
    print_subscriber(view)
    typer.echo(view.id)


@subscription_app.command("set")
def subscription_set(
    subscription: Annotated[
        int, typer.Argument(help="Subscription id (see `paperbot profile show`).", show_default=False)
    ],
    frequency: FrequencyOpt = None,
    at: AtOpt = None,
    timezone: TimezoneOpt = None,
    weekday: WeekdayOpt = None,
    size: SizeOpt = None,
    always_send: AlwaysSendOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a subscription's schedule or size; what is not given stays as it is."""
    from bot.records import to_json

    if all(v is None for v in (frequency, at, timezone, weekday, size, always_send)):
        fail("nothing to change: give --at, --tz, --frequency, --weekday, --size or --always-send")
    with service() as bot:
        view = bot.update_subscription(
            subscription,
            send_time=at,
            timezone=timezone,
            frequency=frequency_of(frequency),
            weekday=weekday_number(weekday),
            size=size,
            always_send=always_send,
        )
    if json_out:
        print_json(to_json(view))
    else:
        typer.echo(subscription_line(view))


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


@profile_app.command("show")
def profile_show(subscriber: SubscriberArg, json_out: JsonOpt = False) -> None:
    """Interests, subscriptions and vote counts of a subscriber."""
    from bot.records import to_json
    from bot.views import subscriber as subscriber_view

    with reading() as (_, rows):
        view = subscriber_view(rows, subscriber)
    if json_out:
        print_json(to_json(view))
    else:
        print_subscriber(view)


def echo_added(views: Sequence[InterestView], why_none: str) -> None:
    for view in views:
        typer.echo(f"added interest {view.id}: {view.label}")
    if not views:
        typer.echo(f"nothing added: {why_none}")


@profile_app.command("add-interest")
def profile_add_interest(
    subscriber: SubscriberArg,
    text: Annotated[str | None, typer.Argument(help='Free-text interest, e.g. "protein design".')] = None,
    seed_paper: Annotated[
        list[str] | None,
        typer.Option("--seed-paper", "-p", help="arXiv id or DOI (repeatable; fetched if not stored)."),
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Name shown in digests.")] = None,
) -> None:
    """Add an interest from text, or from seed papers (one interest per topic among them)."""
    with service() as bot:
        views = bot.add_interest(
            subscriber_id=subscriber, text=text, seed_papers=seed_paper or (), label=label
        )
    echo_added(views, "those papers are already in your library")


@profile_app.command("remove-interest")
def profile_remove_interest(
    subscriber: SubscriberArg,
    interest_id: Annotated[int, typer.Argument(help="Interest id (see `paperbot profile show`).")],
) -> None:
    """Remove an interest (votes are kept)."""
    with service() as bot:
        view = bot.remove_interest(subscriber_id=subscriber, interest_id=interest_id)
    typer.echo(f"removed interest {view.id}: {view.label}")


@profile_app.command("import-bib")
def profile_import_bib(
    subscriber: SubscriberArg,
    path: Annotated[Path, typer.Argument(help="BibTeX file.")],
) -> None:
    """Import seed papers from BibTeX; papers are grouped into interests by topic."""
    with service() as bot:
        views, warnings = bot.import_bib(subscriber_id=subscriber, data=read_file(path))
    for warning in warnings:
        typer.echo(f"Warning: {warning}", err=True)
    echo_added(views, "every entry is already in your library")


@profile_app.command("prefs")
def profile_prefs(
    subscriber: SubscriberArg,
    follow: Annotated[
        list[str] | None, typer.Option("--follow", help="Author to boost (repeatable; replaces the list).")
    ] = None,
    mute: Annotated[
        list[str] | None, typer.Option("--mute", help="Keyword to exclude (repeatable; replaces the list).")
    ] = None,
) -> None:
    """Set followed authors and muted keywords."""
    with service() as bot:
        view = bot.set_preferences(subscriber_id=subscriber, follow_authors=follow, mute_keywords=mute)
    print_subscriber(view)


@app.command()
def recommend(
    subscriber: SubscriberArg,
    since: Annotated[
        str | None,
        typer.Option("--since", "-s", help="Papers first seen on or after DATE (default: 7 days)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200, help="At most N papers.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Rank new papers for a subscriber, in digest order, with scores and reasons. Nothing is delivered.

    A score marked * is higher than one above it: a note under the table says why (diversity, or a
    slot kept for another interest)."""
    from bot.records import to_json

    with service() as bot:
        items = bot.recommend(subscriber_id=subscriber, since=parse_date(since), limit=limit)
        unembedded = 0 if items else bot.unembedded()
        last = None if items else bot.last_digest(subscriber_id=subscriber)
    if unembedded:  # e.g. after a model change: those papers cannot match until they are embedded
        model = bot.settings.model
        typer.echo(
            f"Warning: {unembedded} papers have no vector for {model}; run `paperbot index rebuild`", err=True
        )
    if json_out:
        print_json([to_json(item) for item in items])
        return
    from rich.console import Console
    from rich.table import Table

    from bot.digests.display import moved_note

    table = Table("#", "id", "score", "title", "why")
    for n, item in enumerate(items, 1):
        score = f"{item.score:.3f}" + ("*" if item.moved else "")
        table.add_row(str(n), str(item.listing.id), score, item.listing.title, item.reason)
    if items:
        Console().print(table)
    for n in range(1, len(items) + 1):  # the digest's own order, which the scores alone do not give
        if note := moved_note(items, n):
            typer.echo(f"* {note}")
    typer.echo(f"{len(items)} recommendations" + ("" if items else f" ({why_none(last)})"))


def why_none(last: LastDigest | None) -> str:
    """Why a ranking came back empty: nothing arrived since the last digest, or nothing is good enough."""
    if last is not None and last.new_papers == 0:
        sent = f"{last.sent_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        return f"nothing new since your last digest, sent {sent}; its papers are not shown again"
    return "nothing above the bar in this window"


@app.command()
def feedback(
    subscriber: SubscriberArg,
    listing_id: Annotated[int, typer.Argument(help="Listing id (from `recommend` or `listings`).")],
    vote: Annotated[str, typer.Argument(help="up (more like this), down (less like this) or save.")],
) -> None:
    """Vote on a paper; the next ranking takes it into account."""
    from bot.views import record_vote

    with reading() as (_, rows):
        result = record_vote(
            rows,
            subscriber_id=subscriber,
            listing_id=listing_id,
            vote=vote,
            via="cli",
            digest_item_id=None,
            now=datetime.now(UTC),
        )
    typer.echo(f"recorded {result.vote} on listing {listing_id}" if result.changed else "already recorded")


@app.command()
def saved(
    subscriber: SubscriberArg,
    json_out: JsonOpt = False,
    bib: Annotated[
        bool,
        typer.Option("--bib", help="Print BibTeX (Zotero: File > Import from Clipboard or a .bib file)."),
    ] = False,
    liked: Annotated[bool, typer.Option("--liked", help="Also list papers voted 👍 up.")] = False,
) -> None:
    """The reading list: papers saved with 🔖 (in Slack, email or `paperbot feedback ... save`)."""
    from bot.bibtex import format_bibtex
    from bot.records import to_json

    with service() as bot:
        papers = bot.saved_papers(subscriber_id=subscriber, votes=("save", "up") if liked else ("save",))
    if bib:
        typer.echo(format_bibtex(papers), nl=False)
    elif json_out:
        print_json([to_json(p) for p in papers])
    elif papers:
        print_listings(papers)
    else:
        typer.echo(f"subscriber {subscriber} has no saved papers; 🔖 Save in a digest adds one")


@app.command("eval")
def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", "-d", help="The citeulike-a directory.")],
    corpus: Annotated[
        str, typer.Option("--corpus", help="abstracts (1,929 papers) or titles (all 16,980, title only).")
    ] = "abstracts",
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="single (one user), multi (unrelated users as one subscriber) or text (a written interest).",
        ),
    ] = "single",
    users: Annotated[
        int | None, typer.Option("--users", "-u", min=1, help="Simulated subscribers [100; multi: 60].")
    ] = None,
    seed_papers: Annotated[
        int | None,
        typer.Option("--seed-papers", "-k", min=1, help="Seed papers per user [single: 5, multi: 3 each]."),
    ] = None,
    days: Annotated[int, typer.Option("--days", "-D", min=2, help="Daily digests per subscriber.")] = 10,
    day_size: Annotated[
        int | None,
        typer.Option(
            "--day-size",
            "--per-day",
            "-p",
            min=10,
            help="Papers from outside the library per day [abstracts: 150; titles: 1,700, or the corpus].",
        ),
    ] = None,
    group_size: Annotated[
        int, typer.Option("--group-size", min=2, max=3, help="protocol multi: users per subscriber.")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Sampling seed.")] = 0,
    split: Annotated[
        str, typer.Option("--split", help="Which half of the users: test (report) or tune.")
    ] = "test",
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Processes simulating users.")] = 2,
    json_out: JsonOpt = False,
) -> None:
    """Offline evaluation on real users' libraries: paperbot against the baselines (docs/evaluation.md)."""
    from rich.console import Console

    from bot.config import load_settings
    from bot.errors import PaperbotError
    from bot.evaluation import CORPORA, PROTOCOLS, format_report, run_eval

    if split not in ("test", "tune"):
        fail(f"--split {split!r} must be test or tune")
    if corpus not in CORPORA:
        fail(f"--corpus {corpus!r} must be one of {', '.join(CORPORA)}")
    if protocol not in PROTOCOLS:
        fail(f"--protocol {protocol!r} must be one of {', '.join(PROTOCOLS)}")
    if not (dataset / "users.dat").is_file():
        fail(f"{dataset} is not a citeulike-a directory (no users.dat); see ../shared/data/citeulike-a")
    err = Console(stderr=True)
    try:
        settings = load_settings()
    except PaperbotError as exc:
        fail(exc.message)

    def progress(stage: str, done: int, total: int) -> None:
        # Embedding 16,980 titles takes minutes on 2 cores: say how far it is every 10 batches.
        if done == total or (stage == "embedding" and done % 2560 == 0):
            err.print(f"{stage}: {done:,} of {total:,}")

    report = run_eval(
        dataset,
        corpus=corpus,
        protocol=protocol,
        users=users or (60 if protocol == "multi" else 100),
        seed_papers=seed_papers,
        days=days,
        per_day=day_size,
        group_size=group_size,
        seed=seed,
        split=split,
        workers=workers,
        cache_dir=settings.data_dir / "eval-cache",
        model=settings.model,
        progress=progress,
    )
    if json_out:
        print_json(report.to_json())
        return
    Console().print(*format_report(report))


# ---- running ------------------------------------------------------------------------------------


def print_digests(results: list[DigestResult]) -> None:
    from collections import Counter

    for r in results:
        line = f"subscription {r.subscription_id} {r.period}: {r.status}"
        line += f", {r.items} papers" if r.items else ""
        line += f" -> {r.location}" if r.location else ""
        line += f" ({r.error})" if r.error else ""
        typer.echo(line)
    counts = Counter(r.status for r in results)
    typer.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing due")


@app.command()
def digest(
    subscriber: Annotated[int | None, typer.Argument(help="Subscriber id; omit with --all-due.")] = None,
    all_due: Annotated[
        bool,
        typer.Option("--all-due", "-a", help="Every active subscription whose digest is due and unsent."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Write what would be sent to the outbox; change nothing.")
    ] = False,
    defer: Annotated[
        bool,
        typer.Option(
            "--defer",
            help="With --all-due on PostgreSQL: queue the due digests for `paperbot worker` and return.",
        ),
    ] = False,
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, max=500, help="With --defer: subscriptions per queued job.")
    ] = 500,
    json_out: JsonOpt = False,
) -> None:
    """Deliver digests now. Each period is sent at most once; exit code 1 if any failed or will be retried."""
    from bot.digests.run import run_due, run_for_subscriber
    from bot.records import to_json

    if subscriber is None and not all_due:
        fail("give a SUBSCRIBER id (see `paperbot profile show`) or --all-due")
    if subscriber is not None and all_due:
        fail("give a SUBSCRIBER id or --all-due, not both")
    if all_due and dry_run:
        fail("--dry-run works with one SUBSCRIBER, not with --all-due")
    if defer and not all_due:
        fail("--defer works with --all-due, not with one SUBSCRIBER")
    if defer:
        defer_digests(chunk, json_out)
        return
    with service() as bot:
        if subscriber is None:
            results = run_due(bot)
        else:
            results = run_for_subscriber(bot, subscriber_id=subscriber, dry_run=dry_run)
    if json_out:
        print_json([to_json(r) for r in results])
    else:
        print_digests(results)
    if any(r.status in ("failed", "retry") for r in results):
        raise typer.Exit(1)


def defer_digests(chunk: int, json_out: bool) -> None:
    from bot.schedule.tasks import build_app, defer_due

    with service() as bot:
        require_postgres(bot, "paperbot digest --defer")
        queue = build_app(bot.settings.db_url, bot.settings)
        with queue.open():
            due = defer_due(queue, bot, now=datetime.now(UTC), size=chunk)
    jobs = -(-due // chunk)
    if json_out:
        print_json({"due": due, "jobs": jobs})
    else:
        typer.echo(f"queued {due} due digests as {jobs} deliver_chunk jobs for paperbot worker")


def require_postgres(bot: Paperbot, what: str) -> None:
    if not bot.settings.db_url.startswith("postgresql"):
        fail(
            f"{what} is distributed mode, which needs PostgreSQL: set DATABASE_URL=postgresql://... "
            "(on SQLite, paperbot serve runs everything in one process)"
        )


@app.command()
def worker(
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues", "-q", help="Comma-separated queues to work on: deliver, slack, embed, default (all)."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Jobs run at once.")] = 1,
) -> None:
    """Run a distributed-mode worker (PostgreSQL) until SIGTERM or Ctrl-C (see docs/deploy.md)."""
    import os
    import socket

    from bot.schedule.tasks import QUEUES, build_app, heartbeat_seconds
    from bot.server.serve import ensure_logging

    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else list(QUEUES)
    if unknown := sorted(set(chosen) - set(QUEUES)):
        fail(f"unknown queue {', '.join(unknown)}; the queues are {', '.join(QUEUES)}")
    with service() as bot:
        require_postgres(bot, "paperbot worker")
        ensure_logging()
        name = f"{socket.gethostname()}:{os.getpid()}"
        logging.getLogger("paperbot.worker").info(
            "paperbot worker %s on queues %s, concurrency %d", name, ",".join(chosen), concurrency
        )
        build_app(bot.settings.db_url, bot.settings).run_worker(
            queues=chosen,
            concurrency=concurrency,
            name=name,
            delete_jobs="successful",
            update_heartbeat_interval=heartbeat_seconds(bot.settings.worker_stalled_seconds),
            stalled_worker_timeout=bot.settings.worker_stalled_seconds,
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", "-H", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0 picks a free one).")
    ] = 8000,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Serve the web only; never run the scheduler.")
    ] = False,
    web_only: Annotated[
        bool,
        typer.Option(
            "--web",
            help=(
                "Distributed mode's web tier (PostgreSQL): the web app only; workers schedule, and "
                "new interests are embedded on the embed queue."
            ),
        ),
    ] = False,
) -> None:
    """Run the web app and the scheduler until SIGTERM or Ctrl-C (see docs/deploy.md)."""
    from datetime import timedelta

    from bot.schedule.scheduler import SchedulerConfig
    from bot.server.serve import serve as run

    with service() as bot:
        settings = bot.settings
        config = SchedulerConfig(
            ingest_every=timedelta(minutes=settings.ingest_interval_minutes),
            retention=timedelta(days=settings.retention_days),
            lock_retry=timedelta(seconds=settings.scheduler_lock_retry_seconds),
            retry_after=timedelta(seconds=settings.scheduler_sweep_seconds),
        )
        if web_only:
            require_postgres(bot, "paperbot serve --web")
        schedule = not (no_schedule or web_only)
        run(bot, host=host, port=port, schedule=schedule, web_tier=web_only, config=config)


@app.command()
def status(json_out: JsonOpt = False) -> None:
    """Sources, subscriptions with their next run, recent digests, failed deliveries, paused subscriptions."""
    from bot.records import to_json
    from bot.server.status import collect_status, render_status

    with reading() as (settings, rows):
        report = collect_status(rows, configured=settings.sources, now=datetime.now(UTC))
    if json_out:
        print_json(to_json(report))
        return
    from rich.console import Console

    render_status(report, Console())


@app.command()
def web(
    host: Annotated[str, typer.Option("--host", "-H", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0 picks a free one).")
    ] = 8000,
) -> None:
    """Serve the web pages only (email links, Slack, health); same as `serve --no-schedule`."""
    serve(host=host, port=port, no_schedule=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
