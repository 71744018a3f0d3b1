"""The facade every front end uses (CLI, Slack, web, scheduler): nothing deeper is called by them.

Methods are keyword-only, take ids or plain values, and return frozen records from bot.records.

Importing this module loads only the database layer. The stages that need numpy, FAISS, httpx, the
feed parsers or BibTeX are imported by the methods that use them, so that a CLI command that reads
a few rows (`paperbot status`, `listings`, `profile show`) answers in a fraction of a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import views
from bot.digests import store as digests
from bot.errors import ConfigError, FetchError, InvalidInput, NotFound, SourceError
from bot.feedback import item_owner, withdraw_vote
from bot.inputs import Schedule, ScheduleChange, check_text
from bot.records import (
    DigestEntry,
    FeedbackResult,
    IngestReport,
    InterestView,
    LastDigest,
    ListingView,
    MatchRequest,
    Recommendation,
    SourceReport,
    SourceView,
    SubscriberView,
    SubscriptionView,
)
from bot.subscribers import (
    Identity,
    find_subscriber,
    get_subscriber,
    resolve_seed,
    schedule_of,
    set_schedule,
    subscriber_view,
    upsert_subscription,
)
from bot.vocab import Frequency, VoteVia, parse_vote
from storage import models
from storage.db import make_engine, session_scope, upgrade
from storage.rows import AlchemyRows, rows_of

if TYPE_CHECKING:
    import httpx

    from bot.channels.email.smtp import SmtpSender
    from bot.config import Settings
    from bot.recommend import Outcome, Pool
    from bot.vectors.embed import Encoder
    from bot.vectors.store import Progress
    from storage.index import IndexState, VectorIndex

__all__ = ["Paperbot", "sample_feed_path"]

log = logging.getLogger("paperbot")
EMBED_CHUNK = 500  # listings in one embed_listings job: a few seconds of the model, bounded memory
DEFAULT_DIM = 384  # all-MiniLM-L6-v2; other models report theirs once they have vectors


def sample_feed_path() -> Path:
    """The bundled sample feed (321 real papers), so the main job runs with no network."""
    return Path(str(resources.files("bot") / "data" / "sample.atom"))


def _earliest(times: Iterable[datetime | None]) -> datetime | None:
    """The earliest of these window starts; None (no bound) when any is None or there are none."""
    found = list(times)
    return None if not found or None in found else min(t for t in found if t is not None)


def _stored(session: Session, reference: str) -> bool:
    try:
        resolve_seed(session, reference)
    except NotFound:
        return False
    return True


class Paperbot:
    """One paperbot installation: its settings, database, index and encoder."""

    def __init__(
        self,
        settings: Settings,
        *,
        encoder: Encoder | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        fetch_timeout: float = 30.0,
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.db_url)
        upgrade(self.engine)
        self._encoder = encoder
        self._http = http
        self.sleep = sleep  # every backoff of this installation waits with it (tests pass a fake)
        self._fetch_timeout = fetch_timeout
        self._pool_cache: Pool | None = None
        self._pool_lock = threading.Lock()

    @property
    def database_url(self) -> str:
        """The database's URL with any password masked, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def rows(self) -> Iterator[AlchemyRows]:
        """Plain SQL (bot.views) in one transaction: committed at the end, rolled back on error."""
        with self.engine.begin() as connection:
            yield AlchemyRows(connection)

    def close(self) -> None:
        if "smtp" in self.__dict__:
            self.smtp.close()
        self.engine.dispose()

    @cached_property
    def smtp(self) -> SmtpSender:
        """The SMTP connection every digest of this process shares (see `SmtpSender`)."""
        from bot.channels.email.smtp import SmtpSender

        return SmtpSender(self.settings, sleep=self.sleep)

    # ---- vectors ---------------------------------------------------------------------------

    @property
    def encoder(self) -> Encoder:
        from bot.vectors.embed import Encoder

        if self._encoder is None:
            self._encoder = Encoder(self.settings.model, cache_dir=self.settings.data_dir / "models")
        return self._encoder

    @cached_property
    def interest_encoder(self) -> Encoder:
        """Embeds interests: a text or a few at a time, where loading torch (5 s, 575 MB) would cost
        far more than the work. It runs the model's ONNX export when there is one, which gives the
        same vectors (see `Encoder`). An injected encoder, or one an ingest of this process has
        already loaded, is used as it is."""
        from bot.vectors.embed import Encoder

        if self._encoder is not None:
            return self._encoder
        return Encoder(
            self.settings.model, cache_dir=self.settings.data_dir / "models", same_vectors_on_onnx=True
        )

    def _dim(self) -> int:
        with session_scope(self.engine) as session:
            vector = session.exec(
                select(models.Embedding.vector).where(models.Embedding.model == self.settings.model).limit(1)
            ).first()
        if vector is not None:
            return len(vector) // 4
        return (
            DEFAULT_DIM if self._encoder is None and "MiniLM-L6" in self.settings.model else self.encoder.dim
        )

    @cached_property
    def index(self) -> VectorIndex:
        """The FAISS index, checked against the database and rebuilt from it when missing or stale."""
        from bot.vectors.store import load_all
        from storage.index import VectorIndex

        return VectorIndex.open(
            self.settings.index_path,
            dim=self._dim(),
            model=self.settings.model,
            expected=self._expected_index(),
            load_all=load_all(self.engine, self.settings.model),
        )

    def _expected_index(self) -> IndexState:
        """What the index must hold: every listing with a vector for the current model."""
        from bot.vectors.store import indexed_ids
        from storage.index import IndexState

        with session_scope(self.engine) as session:
            return IndexState.of(indexed_ids(session, self.settings.model))

    def rebuild_index(self) -> int:
        """Rebuild the index from the database; returns how many vectors it holds. Unlike the
        automatic repair on open, a failed write is an error here (the user asked for the file)."""
        from bot.vectors.store import load_all
        from storage.index import rebuild

        try:
            index = rebuild(
                self.settings.index_path,
                dim=self._dim(),
                model=self.settings.model,
                load_all=load_all(self.engine, self.settings.model),
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot write the index {self.settings.index_path}: {exc.strerror}; "
                "check PAPERBOT_DATA_DIR permissions and free space"
            ) from exc
        self.__dict__["index"] = index
        return len(index)

    def unembedded(self) -> int:
        """Stored listing texts without a vector for the current model; they cannot be recommended."""
        from bot.vectors.store import count_missing

        with session_scope(self.engine) as session:
            return count_missing(session, self.settings.model)

    def embed_stored(self, *, progress: Progress | None = None) -> int:
        """Embed the stored listings that have no vector for the current model (after a model
        change); returns how many texts were embedded. The index is not touched."""
        from bot.vectors.store import embed_missing

        return embed_missing(self.engine, self.encoder, progress=progress)

    def embed_listings(self, listing_ids: Sequence[int]) -> int:
        """Embed these stored listings (at most EMBED_CHUNK; one queue job's worth) if they have no
        vector for the current model, and put them in the index; returns how many texts were embedded."""
        from bot.vectors.store import embed_missing

        if len(listing_ids) > EMBED_CHUNK:
            raise InvalidInput(f"embed at most {EMBED_CHUNK} listings at once, not {len(listing_ids)}")
        index = self.index  # opened (and validated) before the new vectors land
        embedded = embed_missing(self.engine, self.encoder, ids=listing_ids)
        self._index_listings(index, listing_ids)
        log.info("embedded %d of %d listings", embedded, len(listing_ids))
        return embedded

    def _index_listings(self, index: VectorIndex, listing_ids: Sequence[int]) -> None:
        """Put these listings' stored vectors in the index and save it."""
        from bot.vectors.store import listing_vectors

        with session_scope(self.engine) as session:
            ids, vectors = listing_vectors(session, self.settings.model, listing_ids)
        if len(ids):
            index.add(ids, vectors)
        index.save()

    def _refresh_vectors(self, touched: Sequence[int], progress: Progress | None) -> int:
        index = self.index  # opened (and validated) before the new vectors land
        embedded = self.embed_stored(progress=progress)
        if touched:
            self._index_listings(index, touched)
        if embedded and index.state != self._expected_index():
            # Listings this ingest did not touch got vectors too: after a model change, or an
            # earlier embed cut short. Load them all rather than guess which.
            self.rebuild_index()
        return embedded

    # ---- ingest ----------------------------------------------------------------------------

    def configured_sources(self) -> list[str]:
        """PAPERBOT_SOURCES plus the sources added with `paperbot sources add`."""
        with self.rows() as rows:
            return views.configured_sources(rows, self.settings.sources)

    def ingest(
        self,
        *,
        sources: Sequence[str] | None = None,
        embed: bool = True,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Fetch, parse and store each source (a failing one is reported and skipped), then embed
        what is new. Re-running is idempotent."""
        from bot.ingest.run import ingest_source
        from bot.ingest.sources import resolve_source

        now = now or models.utcnow()
        urls = [resolve_source(spec) for spec in sources] if sources else self.configured_sources()
        reports: list[SourceReport] = []
        touched: list[int] = []
        for done, url in enumerate(urls):
            report, changed = ingest_source(
                self.engine, url, now=now, client=self._http, sleep=self.sleep, timeout=self._fetch_timeout
            )
            reports.append(report)
            touched.extend(changed)
            if progress:
                progress("sources", done + 1, len(urls))
        embedded = self._refresh_vectors(touched, progress) if embed else 0
        result = IngestReport.of(reports, embedded)
        log.info("ingest: %d sources, %s, embedded %d", len(urls), result.totals, embedded)
        return result

    # ---- sources ---------------------------------------------------------------------------

    def add_source(self, *, spec: str) -> SourceView:
        """Add a feed to the configured set (a URL, a file path, or a shortcut like arxiv:cs.LG).
        A path must name an existing file; it is stored absolute, so `serve` finds it from any cwd."""
        from bot.ingest.run import source_row

        url = self._source_url(spec)
        source_row(self.engine, url)
        with session_scope(self.engine) as session:
            row = session.exec(select(models.Source).where(models.Source.url == url)).one()
            row.enabled = True
            session.add(row)
            session.flush()
            return SourceView.of(row)

    @staticmethod
    def _source_url(spec: str) -> str:
        from bot.ingest.fetch import local_path
        from bot.ingest.sources import resolve_source

        url = resolve_source(spec)
        path = local_path(url)
        if path is None:
            return url
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file; give the path of a feed file, or a URL")
        return str(path.resolve()) if "://" not in url else url

    def list_sources(self, *, everything: bool = False) -> list[SourceView]:
        """The configured sources (`sources add` and PAPERBOT_SOURCES); with `everything`, also the
        removed ones and those of one-off ingests, which are only remembered."""
        with self.rows() as rows:
            configured = views.configured_sources(rows, self.settings.sources)
            return views.list_sources(rows, configured, everything=everything)

    def remove_source(self, *, spec: str) -> SourceView:
        """Take a source out of the configured set (its listings stay)."""
        with session_scope(self.engine) as session:
            row = self._find_source(session, spec)
            if not row.enabled:
                where = (
                    "it comes from PAPERBOT_SOURCES; take it out there"
                    if row.url in self.configured_sources()
                    else "it is not configured; `paperbot sources purge` forgets it"
                )
                raise InvalidInput(f"source {row.id} ({row.url}) was not added with `sources add`: {where}")
            row.enabled = False
            session.add(row)
            session.flush()
            return SourceView.of(row)

    def purge_sources(self) -> list[SourceView]:
        """Forget the sources that are not configured (removed ones, one-off ingests) with their last
        outcomes; their papers stay."""
        configured = set(self.configured_sources())
        with session_scope(self.engine) as session:
            doomed = [
                row
                for row in session.exec(select(models.Source).order_by(col(models.Source.id))).all()
                if row.url not in configured
            ]
            views = [SourceView.of(row) for row in doomed]
            for row in doomed:
                session.delete(row)
        log.info("sources: purged %d that were not configured", len(views))
        return views

    @staticmethod
    def _find_source(session: Session, spec: str) -> models.Source:
        from bot.ingest.fetch import local_path
        from bot.ingest.sources import resolve_source

        if spec.isdigit():
            row = session.get(models.Source, int(spec))
        else:
            url = resolve_source(spec)
            path = local_path(url)
            urls = {url, str(path.resolve())} if path is not None and "://" not in url else {url}
            row = session.exec(select(models.Source).where(col(models.Source.url).in_(urls))).first()
        if row is None:
            raise NotFound(f"no source {spec!r}; `paperbot sources list` shows the configured ones")
        return row

    # ---- listings --------------------------------------------------------------------------

    def listings(self, *, since: datetime | None = None, limit: int | None = None) -> list[ListingView]:
        """Stored listings, newest first; `since` compares the publication date (or first seen)."""
        with self.rows() as rows:
            return views.listings(rows, since=since, limit=limit)

    def count_listings(self) -> int:
        with self.rows() as rows:
            return views.count_listings(rows)

    # ---- subscribers and interests ------------------------------------------------------------

    def subscribe(
        self,
        *,
        email: str | None = None,
        slack_user_id: str | None = None,
        slack_channel_id: str | None = None,
        slack_team_id: str | None = None,
        name: str = "",
        interests: Sequence[str] = (),
        seed_papers: Sequence[str] = (),
        bib: bytes | None = None,
        schedule: Schedule | ScheduleChange | None = None,
        deliver_to_email: str | None = None,
        embed: bool = True,
    ) -> SubscriberView:
        """Create (or extend) a subscriber with one subscription and its interests, all or nothing.

        Exactly one of email / slack_user_id / slack_channel_id names the subscriber; a Slack user may
        ask for delivery by email instead of DM (deliver_to_email). Subscribing again with the same
        identity adds the interests it lacks (one it has is skipped) and resumes that delivery
        target; its schedule changes only where `schedule` says (a ScheduleChange leaves the fields
        it does not give as they are). `embed=False` stores text interests without their vectors,
        as `add_interest` does. A `name` given replaces the stored one (Slack's real name).
        """
        from bot.bibtex import parse_bibtex
        from bot.interests import bib_interests, existing_interest, seed_interests, text_interest

        identity = Identity.of(
            email=email,
            slack_user_id=slack_user_id,
            slack_channel_id=slack_channel_id,
            slack_team_id=slack_team_id,
            name=name,
        )
        parsed_bib = parse_bibtex(bib) if bib is not None else None
        self.fetch_seeds(seed_papers)
        with session_scope(self.engine) as session:
            subscriber = identity.get_or_create(session)
            assert subscriber.id is not None
            upsert_subscription(
                session, subscriber.id, *identity.delivery(deliver_to_email), schedule or ScheduleChange()
            )
            for text in interests:  # subscribing again with an interest it has adds nothing
                if existing_interest(session, subscriber.id, text) is None:
                    text_interest(session, self.interest_encoder if embed else None, subscriber.id, text)
            if seed_papers:
                seed_interests(session, self.interest_encoder, subscriber.id, seed_papers)
            if parsed_bib is not None:
                bib_interests(session, self.interest_encoder, subscriber.id, parsed_bib)
            session.flush()
            return subscriber_view(session, subscriber)

    def fetch_seeds(
        self,
        references: Sequence[str],
        *,
        now: datetime | None = None,
        timeout: float | None = None,
        retries: int = 3,
    ) -> int:
        """Store the seed papers that are not stored yet and are named by an arXiv id (fetched from the
        arXiv API, PAPERBOT_ARXIV_API_URL `?id_list=`) or a DOI (Crossref, PAPERBOT_CROSSREF_API_URL
        `/<doi>`; an arXiv DOI goes to arXiv); returns how many were fetched. A DOI Crossref does
        not know is NotFound, any other failed fetch a SourceError naming the paper; an id arXiv
        does not know is left for `resolve_seed` to refuse. `timeout` (per attempt, default the
        installation's) and `retries` bound a caller that must answer quickly (Slack's modal: 3 s)."""
        missing = self.missing_seeds(references)
        wanted = [(ref, found) for ref in missing if (found := self._seed_source(ref)) is not None]
        if not wanted:
            return 0
        from bot.ingest.run import ingest_source  # httpx and the feed parsers: only to fetch

        for reference, (service, url) in wanted:
            try:
                report, _ = ingest_source(
                    self.engine,
                    url,
                    now=now or models.utcnow(),
                    client=self._http,
                    sleep=self.sleep,
                    timeout=self._fetch_timeout if timeout is None else timeout,
                    retries=retries,
                    strict=True,
                )
            except FetchError as exc:
                if service == "Crossref" and exc.http_status == 404:
                    raise NotFound(
                        f"seed paper {reference!r} is not in the database and Crossref does not know "
                        "that DOI; check it (copy it from the paper's page, e.g. 10.1177/02683962211048201)"
                    ) from None
                raise self._seed_failed(reference, service, exc) from None
            except SourceError as exc:
                raise self._seed_failed(reference, service, exc) from None
            log.info("seed paper %s fetched from %s: %d new", reference.strip(), service, report.new)
        return len(wanted)

    def _seed_source(self, reference: str) -> tuple[str, str] | None:
        """(service, URL) a seed paper given by id is fetched from; None if it is not an arXiv id or DOI."""
        from bot.ingest.sources.ids import normalise_doi, parse_arxiv_id

        if (arxiv := parse_arxiv_id(reference.strip())) is not None:
            return "arXiv", f"{self.settings.arxiv_api_url}?id_list={quote(arxiv[0])}"
        if (doi := normalise_doi(reference)) is not None:
            return "Crossref", f"{self.settings.crossref_api_url.rstrip('/')}/{quote(doi, safe='/')}"
        return None

    @staticmethod
    def _seed_failed(reference: str, service: str, exc: SourceError) -> SourceError:
        return SourceError(
            f"could not fetch seed paper {reference!r} from {service} ({exc.message}); "
            "check the network and try again"
        )

    def missing_seeds(self, references: Sequence[str]) -> list[str]:
        """The seed papers that are not stored (after `fetch_seeds`: those arXiv or Crossref do not
        know, and ids never ingested), in the order given."""
        with session_scope(self.engine) as session:
            return [ref for ref in references if not _stored(session, ref)]

    def subscriber(self, *, subscriber_id: int) -> SubscriberView:
        with self.rows() as rows:
            return views.subscriber(rows, subscriber_id)

    def find_subscriber(
        self,
        *,
        email: str | None = None,
        slack_user_id: str | None = None,
        slack_channel_id: str | None = None,
    ) -> SubscriberView | None:
        with session_scope(self.engine) as session:
            row = find_subscriber(
                session, email=email, slack_user_id=slack_user_id, slack_channel_id=slack_channel_id
            )
            return subscriber_view(session, row) if row else None

    def add_interest(
        self,
        *,
        subscriber_id: int,
        text: str | None = None,
        seed_papers: Sequence[str] = (),
        label: str | None = None,
        embed: bool = True,
    ) -> list[InterestView]:
        """An interest from free text, or interests from seed papers (arXiv id, DOI, id), one per
        topic. Seed papers already in the subscriber's library are skipped, so the result is empty
        when all of them are. `embed=False` stores a text interest without its vector, for callers
        that cannot wait on the model; `embed_interests` (or the next ranking) embeds it."""
        from bot.interests import interest_view, seed_interests, text_interest

        if not (text or "").strip() and not seed_papers:
            raise InvalidInput(
                'an interest needs a text (e.g. "graph neural networks for molecules") '
                "or seed papers (arXiv ids or DOIs)"
            )
        self.fetch_seeds(seed_papers)
        with session_scope(self.engine) as session:
            get_subscriber(session, subscriber_id)
            if seed_papers:
                encoded = seed_interests(session, self.interest_encoder, subscriber_id, seed_papers, label)
                rows = list(encoded.rows)
            else:
                encoder = self.interest_encoder if embed else None
                rows = [text_interest(session, encoder, subscriber_id, text or "", label)]
            session.flush()
            return [interest_view(row) for row in rows]

    def embed_interests(self, *, subscriber_id: int) -> int:
        """Embed the subscriber's interests that have no vector for the current model; returns how
        many were embedded (those `add_interest(embed=False)` stored)."""
        from bot.recommend import refresh_interests  # scikit-learn: only when embedding

        model = self.settings.model
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(models.Interest).where(models.Interest.subscriber_id == subscriber_id)
            ).all()
            stale = [row for row in rows if row.vector is None or row.vector_model != model]
            if stale:
                refresh_interests(session, self.interest_encoder, stale)
            return len(stale)

    def rename_interest(self, *, subscriber_id: int, interest_id: int, label: str) -> InterestView:
        """A new label for an interest; what it matches (its text or seed papers) stays."""
        from bot.interests import interest_view

        label = check_text(label)[:200]
        with session_scope(self.engine) as session:
            row = self._interest(session, subscriber_id, interest_id)
            row.label = label
            session.add(row)
            session.flush()
            return interest_view(row)

    @staticmethod
    def _interest(session: Session, subscriber_id: int, interest_id: int) -> models.Interest:
        row = session.get(models.Interest, interest_id)
        if row is None or row.subscriber_id != subscriber_id:
            raise NotFound(
                f"subscriber {subscriber_id} has no interest {interest_id}; "
                f"`paperbot profile show {subscriber_id}` lists them"
            )
        return row

    def remove_interest(self, *, subscriber_id: int, interest_id: int) -> InterestView:
        from bot.interests import interest_view

        with session_scope(self.engine) as session:
            row = self._interest(session, subscriber_id, interest_id)
            view = interest_view(row)
            session.delete(row)
            return view

    def import_bib(self, *, subscriber_id: int, data: bytes) -> tuple[list[InterestView], list[str]]:
        """Seed papers from BibTeX, grouped by topic into interests; returns (interests, warnings).
        Entries already in the subscriber's library are skipped with a warning."""
        from bot.bibtex import parse_bibtex
        from bot.interests import bib_interests, interest_view

        parsed = parse_bibtex(data)
        with session_scope(self.engine) as session:
            get_subscriber(session, subscriber_id)
            added = bib_interests(session, self.interest_encoder, subscriber_id, parsed)
            session.flush()
            known = [f"skipped {added.known} entries already in your library"] if added.known else []
            return [interest_view(row) for row in added.rows], [*parsed.warnings, *known]

    def set_preferences(
        self,
        *,
        subscriber_id: int,
        follow_authors: Sequence[str] | None = None,
        mute_keywords: Sequence[str] | None = None,
    ) -> SubscriberView:
        with session_scope(self.engine) as session:
            row = get_subscriber(session, subscriber_id)
            if follow_authors is not None:
                row.followed_authors = [a.strip() for a in follow_authors if a.strip()]
            if mute_keywords is not None:
                row.muted_keywords = [k.strip() for k in mute_keywords if k.strip()]
            session.add(row)
            session.flush()
            return subscriber_view(session, row)

    # ---- subscriptions -------------------------------------------------------------------------

    def _subscription(self, session: Session, subscription_id: int) -> models.Subscription:
        row = session.get(models.Subscription, subscription_id)
        if row is None:
            raise NotFound(f"no subscription {subscription_id}")
        return row

    def set_active(
        self,
        *,
        subscription_id: int,
        active: bool,
        reason: str | None = None,
        until: datetime | None = None,
    ) -> SubscriptionView:
        """Pause (with the reason shown to the user) or resume a subscription; unsubscribe is a pause
        with reason "unsubscribed". A pause `until` a time resumes by itself at the first
        `subscriptions()` read after it (every digest run and scheduler sync reads them)."""
        with session_scope(self.engine) as session:
            row = self._subscription(session, subscription_id)
            row.active, row.paused_reason = active, None if active else (reason or "paused")
            row.paused_until = None if active else until
            row.next_due_at = None  # planned by the next tick: a period missed while paused is sent once
            session.add(row)
            return SubscriptionView.of(row)

    def update_subscription(
        self,
        subscription_id: int,
        *,
        send_time: str | None = None,
        timezone: str | None = None,
        frequency: Frequency | None = None,
        weekday: int | None = None,
        size: int | None = None,
        always_send: bool | None = None,
    ) -> SubscriptionView:
        """Change only the given fields of a subscription's schedule, validated as `subscribe`
        validates them (InvalidInput names the bad one); the rest stays as it was."""
        change = ScheduleChange(
            frequency=frequency,
            send_time=send_time,
            timezone=timezone,
            weekday=weekday,
            digest_size=size,
            always_send=always_send,
        )
        with session_scope(self.engine) as session:
            row = self._subscription(session, subscription_id)
            set_schedule(row, change.applied_to(schedule_of(row)))
            session.add(row)
            session.flush()
            view = SubscriptionView.of(row)
        log.info(
            "subscription %d: %s at %s %s, weekday %d, %d papers",
            subscription_id,
            view.frequency,
            view.send_time,
            view.timezone,
            view.weekday,
            view.digest_size,
        )
        return view

    def unsubscribe(self, *, subscription_id: int) -> SubscriptionView:
        return self.set_active(subscription_id=subscription_id, active=False, reason="unsubscribed")

    def subscriptions(
        self, *, active_only: bool = True, now: datetime | None = None
    ) -> list[SubscriptionView]:
        """Subscriptions by id; pauses that ended by `now` are resumed first (unsubscribes never end)."""
        with self.rows() as rows:
            return views.subscriptions(rows, active_only=active_only, now=now or models.utcnow())

    def subscriptions_by_id(self, ids: Sequence[int]) -> list[SubscriptionView]:
        """The subscriptions with these ids that still exist, in id order (one query)."""
        query = (
            select(models.Subscription)
            .where(col(models.Subscription.id).in_(list(ids)))
            .order_by(col(models.Subscription.id))
        )
        with session_scope(self.engine) as session:
            return [SubscriptionView.of(row) for row in session.exec(query).all()]

    # ---- recommendations and feedback ----------------------------------------------------------

    def recommend(
        self,
        *,
        subscriber_id: int,
        since: datetime | None = None,
        limit: int = 10,
        now: datetime | None = None,
        min_score: float | None = None,
    ) -> list[Recommendation]:
        """Ranked papers for a subscriber with reasons; nothing is delivered or marked as shown.
        `since` bounds when papers were first seen (default: the last 7 days)."""
        now = now or models.utcnow()
        since = since if since is not None else now - timedelta(days=7)
        [outcome] = self.recommend_many(
            [MatchRequest(subscriber_id, since, limit)], now=now, min_score=min_score
        )
        if isinstance(outcome, InvalidInput):
            raise outcome
        return outcome

    def recommend_many(
        self,
        requests: Sequence[MatchRequest],
        *,
        now: datetime,
        min_score: float | None = None,
        pool: Pool | None = None,
    ) -> list[Outcome]:
        """`recommend` for many subscribers at once, in a fixed number of queries; one outcome per
        request: its papers, or the InvalidInput saying why there are none (no interests, no such
        subscriber). Pass a `pool` (see `load_pool`) to share it between calls of one run."""
        from bot.recommend import recommend_many  # scikit-learn: only when ranking

        with session_scope(self.engine) as session:
            if pool is None:
                pool = self._pool(session, _earliest(r.since for r in requests))
            return recommend_many(
                session,
                requests,
                pool=pool,
                encoder=self.encoder,
                dim=self._dim(),
                now=now,
                min_score=min_score,
            )

    def last_digest(self, *, subscriber_id: int) -> LastDigest | None:
        """When the subscriber's last digest with papers was sent and how many papers arrived since
        (None: none sent yet), to tell "nothing new" from "nothing good" when a ranking is empty."""
        return digests.last_digest(self.engine, subscriber_id)

    def load_pool(self, since: datetime | None) -> Pool:
        """The listings first seen since `since` with their vectors, for `recommend_many` calls."""
        with session_scope(self.engine) as session:
            return self._pool(session, since)

    def _pool(self, session: Session, since: datetime | None) -> Pool:
        """A pool covering `since`: the last one loaded while none of its listings changed, else a
        fresh one. `paperbot serve` runs one scheduled job per subscription; without this, each job
        would load the same day's listings again (one small query to check instead of thousands of rows)."""
        from bot.recommend import Pool

        with self._pool_lock:  # scheduled jobs run in threads: one loads, the others wait and reuse it
            if self._pool_cache and self._pool_cache.serves(session, since):
                return self._pool_cache
            self._pool_cache = Pool.load(session, self.index, self.settings.model, since)
            return self._pool_cache

    def record_feedback(
        self,
        *,
        subscriber_id: int,
        listing_id: int,
        vote: str,
        via: VoteVia = "cli",
        now: datetime | None = None,
    ) -> FeedbackResult:
        """Store a 👍 (up) / 👎 (down) / 🔖 (save) vote; it counts at the next ranking. Idempotent."""
        with self.rows() as rows:
            return views.record_vote(
                rows,
                subscriber_id=subscriber_id,
                listing_id=listing_id,
                vote=vote,
                via=via,
                digest_item_id=None,
                now=now or models.utcnow(),
            )

    def record_item_feedback(
        self, *, digest_item_id: int, vote: str, via: VoteVia, now: datetime | None = None
    ) -> FeedbackResult:
        """A vote from a digest's button, reaction or email link; the digest decides whose profile
        learns. One transaction: the owner is read and the vote written together."""
        with session_scope(self.engine) as session:
            item, subscriber_id = item_owner(session, digest_item_id)
            return views.record_vote(
                rows_of(session),
                subscriber_id=subscriber_id,
                listing_id=item.listing_id,
                vote=vote,
                via=via,
                digest_item_id=digest_item_id,
                now=now or models.utcnow(),
            )

    def withdraw_item_feedback(self, *, digest_item_id: int, vote: str) -> FeedbackResult:
        """Undo a vote (a removed reaction) if it is still the recorded one."""
        with session_scope(self.engine) as session:
            return withdraw_vote(session, digest_item_id=digest_item_id, vote=vote)

    def saved_papers(self, *, subscriber_id: int, votes: Sequence[str] = ("save",)) -> list[ListingView]:
        """The subscriber's reading list: papers whose latest vote is one of `votes`, newest vote first."""
        with session_scope(self.engine) as session:
            get_subscriber(session, subscriber_id)
            rows = session.exec(
                select(models.Listing)
                .join(models.Feedback, col(models.Feedback.listing_id) == col(models.Listing.id))
                .where(
                    models.Feedback.subscriber_id == subscriber_id,
                    col(models.Feedback.vote).in_([parse_vote(v) for v in votes]),
                )
                .order_by(col(models.Feedback.updated_at).desc(), col(models.Feedback.id).desc())
            ).all()
            return [ListingView.of(row) for row in rows]

    def remove_saved(self, *, subscriber_id: int, listing_id: int) -> bool:
        """Take a paper off the reading list (its 🔖 vote is withdrawn); False if it was not on it."""
        with session_scope(self.engine) as session:
            row = session.exec(
                select(models.Feedback).where(
                    models.Feedback.subscriber_id == subscriber_id,
                    models.Feedback.listing_id == listing_id,
                    models.Feedback.vote == "save",
                )
            ).first()
            if row is None:
                return False
            session.delete(row)
            log.info("feedback: subscriber %d removed listing %d from saved", subscriber_id, listing_id)
            return True

    # ---- idempotency ---------------------------------------------------------------------------

    def first_time(self, *, key: str) -> bool:
        """True the first time `key` is seen (a Slack event id, a one-time token); False on replays."""
        try:
            with session_scope(self.engine) as session:
                session.add(models.ProcessedEvent(key=key[:300]))
        except IntegrityError:
            return False
        return True

    # ---- Slack message bookkeeping ---------------------------------------------------------------

    def record_slack_messages(
        self, *, digest_id: int, channel_id: str, messages: Sequence[tuple[str, Sequence[int]]]
    ) -> None:
        """Remember which digest items each posted message shows, so a reaction names its paper."""
        with session_scope(self.engine) as session:
            for ts, item_ids in messages:
                session.merge(
                    models.SlackMessage(
                        channel_id=channel_id,
                        ts=ts,
                        digest_id=digest_id,
                        digest_item_id=item_ids[0] if len(item_ids) == 1 else None,
                    )
                )

    def posted_slack_ts(self, *, digest_id: int) -> str | None:
        """The first message ts recorded for a digest already posted to Slack, if any."""
        with session_scope(self.engine) as session:
            return session.exec(
                select(func.min(models.SlackMessage.ts)).where(models.SlackMessage.digest_id == digest_id)
            ).one()

    def slack_message_item(self, *, channel_id: str, ts: str) -> int | None:
        """The digest item a one-paper message shows (None for other messages)."""
        with session_scope(self.engine) as session:
            row = session.get(models.SlackMessage, {"channel_id": channel_id, "ts": ts})
            return row.digest_item_id if row else None

    # ---- digests --------------------------------------------------------------------------------

    def subscription(self, *, subscription_id: int) -> SubscriptionView:
        with session_scope(self.engine) as session:
            return SubscriptionView.of(self._subscription(session, subscription_id))

    def digest_entry(self, *, item_id: int) -> DigestEntry:
        """One digest item with its paper (what an email link points at)."""
        return digests.entry(self.engine, item_id)

    def digest_state(self, *, subscription_id: int, period: str) -> digests.Found | None:
        """The digest of one (subscription, period), if one was claimed."""
        return digests.find(self.engine, subscription_id, period)

    def seen(self, *, key: str) -> bool:
        """Whether a one-time key was used (without using it)."""
        with session_scope(self.engine) as session:
            return session.get(models.ProcessedEvent, key[:300]) is not None
