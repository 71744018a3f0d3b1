"""Interest rows from free text, seed papers or a BibTeX import, with their vectors computed up front
(so ranking later embeds nothing but new text). Rows are added to the caller's session: a subscribe
either stores everything or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from bot.bibtex import BibEntry, BibImport
from bot.errors import InvalidInput
from bot.ingest.sources.ids import paper_keys
from bot.inputs import check_text, interest_key
from bot.records import InterestView
from bot.subscribers import resolve_seed
from bot.vectors.embed import Encoder, listing_text
from bot.vectors.store import vectors_for_texts
from storage import models

__all__ = [
    "existing_interest",
    "text_interest",
    "seed_interests",
    "bib_interests",
    "library",
    "Added",
    "interest_view",
]


def interest_view(row: models.Interest) -> InterestView:
    assert row.id is not None
    return InterestView(
        id=row.id, label=row.label, text=row.text, seed_listing_ids=tuple(row.seed_listing_ids)
    )


def _row(
    subscriber_id: int,
    label: str,
    vectors: np.ndarray,
    model: str,
    *,
    text: str | None = None,
    seed_listing_ids: Sequence[int] = (),
    seed_texts: Sequence[str] = (),
    library_keys: Sequence[str] = (),
) -> models.Interest:
    return models.Interest(
        subscriber_id=subscriber_id,
        label=label[:200],
        text=text,
        seed_listing_ids=list(seed_listing_ids),
        seed_texts=list(seed_texts),
        library_keys=list(library_keys),
        vector=np.ascontiguousarray(vectors, dtype=np.float32).tobytes(),
        vector_model=model,
    )


def existing_interest(session: Session, subscriber_id: int, text: str) -> models.Interest | None:
    """The subscriber's interest with this text (by `interest_key`), if there is one."""
    key = interest_key(text)
    rows = session.exec(
        select(models.Interest).where(
            models.Interest.subscriber_id == subscriber_id, col(models.Interest.text).is_not(None)
        )
    ).all()
    return next((row for row in rows if interest_key(row.text or "") == key), None)


def text_interest(
    session: Session, encoder: Encoder | None, subscriber_id: int, text: str, label: str | None = None
) -> models.Interest:
    """An interest from free text; with no encoder it is stored without a vector (a web request must
    not wait on the model) and the next ranking, or `Paperbot.embed_interests`, embeds it. The same
    text twice is refused, so a repeated click or a replayed request adds no second row."""
    text = check_text(text)
    if (same := existing_interest(session, subscriber_id, text)) is not None:
        raise InvalidInput(
            f"the interest {same.label!r} is already in this profile (interest {same.id}); nothing was added"
        )
    if encoder is None:
        row = models.Interest(subscriber_id=subscriber_id, label=(label or text)[:200], text=text)
    else:
        row = _row(subscriber_id, label or text, encoder.encode([text]), encoder.model_name, text=text)
    session.add(row)
    return row


@dataclass(frozen=True)
class Added:
    """Interests made from papers, and how many of the papers given were skipped as already in the
    subscriber's library."""

    rows: tuple[models.Interest, ...]
    known: int


@dataclass(frozen=True)
class _Topic:
    label: str
    members: tuple[int, ...]  # positions of its papers in the grouped sequence
    vectors: np.ndarray  # (len(members), dim) unit


def _topics(vectors: np.ndarray, titles: Sequence[str]) -> list[_Topic]:
    """Papers grouped by topic (`profiles.model.interests_from_papers`), so that a library about two
    subjects becomes two interests that each keep their own digest slots."""
    from profiles.model import interests_from_papers, unit  # scikit-learn et al. only when needed

    topics = []
    for group in interests_from_papers(vectors, titles):
        assert group.seed_vectors is not None
        members = np.argmax(group.seed_vectors @ unit(vectors).T, axis=1)  # the papers it is made of
        topics.append(_Topic(group.label, tuple(members.tolist()), group.seed_vectors))
    return topics


def _listing_keys(row: models.Listing) -> set[str]:
    return paper_keys(arxiv_id=row.arxiv_id, doi=row.doi, title=row.title)


def library(session: Session, subscriber_id: int) -> set[str]:
    """Keys of every paper the subscriber's interests were made from (`paper_keys`)."""
    rows = session.exec(
        select(models.Interest.library_keys, models.Interest.seed_listing_ids).where(
            models.Interest.subscriber_id == subscriber_id
        )
    ).all()
    keys = {key for library_keys, _ in rows for key in library_keys}
    seeded = sorted({i for _, ids in rows for i in ids})  # seed interests stored before library_keys
    if seeded:
        listings = session.exec(select(models.Listing).where(col(models.Listing.id).in_(seeded))).all()
        keys.update(key for row in listings for key in _listing_keys(row))
    return keys


def _new_papers(known: set[str], papers: Sequence[set[str]]) -> list[int]:
    """Positions of the papers not in `known` nor earlier in `papers` (one shared key is one paper)."""
    seen = set(known)
    fresh = []
    for n, keys in enumerate(papers):
        if not keys & seen:
            fresh.append(n)
        seen |= keys
    return fresh


def _label(topic: _Topic, given: str | None, topics: int) -> str:
    if given is None:
        return topic.label
    return given if topics == 1 else f"{given}: {topic.label}"


def seed_interests(
    session: Session,
    encoder: Encoder,
    subscriber_id: int,
    references: Sequence[str],
    label: str | None = None,
) -> Added:
    """Interests from papers already stored (arXiv id or URL, DOI, listing id), one per topic. Papers
    already in the subscriber's library are skipped, so giving the same seeds again adds nothing."""
    seeds = [resolve_seed(session, ref) for ref in references]
    fresh = [
        seeds[n] for n in _new_papers(library(session, subscriber_id), [_listing_keys(r) for r in seeds])
    ]
    if not fresh:
        return Added((), len(seeds))
    vectors = vectors_for_texts(session, encoder, [listing_text(r.title, r.abstract) for r in fresh])
    topics = _topics(vectors, [r.title for r in fresh])
    rows = []
    for topic in topics:
        papers = [fresh[i] for i in topic.members]
        row = _row(
            subscriber_id,
            _label(topic, label, len(topics)),
            topic.vectors,
            encoder.model_name,
            seed_listing_ids=[p.id for p in papers if p.id is not None],
            library_keys=sorted({key for p in papers for key in _listing_keys(p)}),
        )
        session.add(row)
        rows.append(row)
    return Added(tuple(rows), len(seeds) - len(fresh))


def _entry_keys(entry: BibEntry) -> set[str]:
    return paper_keys(arxiv_id=entry.arxiv_id, doi=entry.doi, title=entry.title)


def _stored(session: Session, entry: BibEntry) -> models.Listing | None:
    row = None
    if entry.arxiv_id:
        row = session.exec(select(models.Listing).where(models.Listing.arxiv_id == entry.arxiv_id)).first()
    if row is None and entry.doi:
        row = session.exec(select(models.Listing).where(models.Listing.doi == entry.doi)).first()
    return row


def bib_interests(session: Session, encoder: Encoder, subscriber_id: int, parsed: BibImport) -> Added:
    """Seed papers from BibTeX, grouped by topic so each topic keeps its own digest slots. Entries
    already in the subscriber's library (same arXiv id, DOI or title) are skipped: importing the same
    file again adds nothing."""
    if not parsed.entries:
        raise InvalidInput(
            "no usable BibTeX entries (each needs at least a title): " + "; ".join(parsed.warnings[:3])
        )
    # A paper already stored is recognised by the stored copy's keys too, and represented by its
    # stored text (usually richer than the export's).
    stored = [_stored(session, e) for e in parsed.entries]
    all_keys = [
        _entry_keys(e) | (_listing_keys(row) if row else set())
        for e, row in zip(parsed.entries, stored, strict=True)
    ]
    fresh = _new_papers(library(session, subscriber_id), all_keys)
    if not fresh:
        return Added((), len(parsed.entries))
    entries = [parsed.entries[n] for n in fresh]
    keys = [all_keys[n] for n in fresh]
    texts = [
        listing_text(row.title, row.abstract) if row else listing_text(e.title, e.abstract)
        for e, row in zip(entries, [stored[n] for n in fresh], strict=True)
    ]
    vectors = vectors_for_texts(session, encoder, texts)
    rows = []
    for topic in _topics(vectors, [e.title for e in entries]):
        row = _row(
            subscriber_id,
            topic.label,
            topic.vectors,
            encoder.model_name,
            seed_texts=[texts[i] for i in topic.members],
            library_keys=sorted({key for i in topic.members for key in keys[i]}),
        )
        rows.append(row)
        session.add(row)
    return Added(tuple(rows), len(parsed.entries) - len(fresh))
