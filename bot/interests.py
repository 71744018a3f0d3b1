"""Interest rows from free text, seed papers or a BibTeX import, with their vectors computed up front
(so ranking later embeds nothing but new text). Rows are added to the caller's session: a subscribe
either stores everything or nothing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlmodel import Session, select

from bot.bibtex import BibEntry, BibImport
from bot.errors import InvalidInput
from bot.inputs import check_text
from bot.records import InterestView
from bot.subscribers import resolve_seed
from bot.vectors.embed import Encoder, listing_text
from bot.vectors.store import listing_vectors, vectors_for_texts
from storage import models

__all__ = ["text_interest", "seed_interest", "bib_interests", "interest_view"]


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
) -> models.Interest:
    return models.Interest(
        subscriber_id=subscriber_id,
        label=label[:200],
        text=text,
        seed_listing_ids=list(seed_listing_ids),
        seed_texts=list(seed_texts),
        vector=np.ascontiguousarray(vectors, dtype=np.float32).tobytes(),
        vector_model=model,
    )


def text_interest(
    session: Session, encoder: Encoder | None, subscriber_id: int, text: str, label: str | None = None
) -> models.Interest:
    """An interest from free text; with no encoder it is stored without a vector (a web request must
    not wait on the model) and the next ranking, or `Paperbot.embed_interests`, embeds it."""
    text = check_text(text)
    if encoder is None:
        row = models.Interest(subscriber_id=subscriber_id, label=(label or text)[:200], text=text)
    else:
        row = _row(subscriber_id, label or text, encoder.encode([text]), encoder.model_name, text=text)
    session.add(row)
    return row


def seed_interest(
    session: Session,
    encoder: Encoder,
    subscriber_id: int,
    references: Sequence[str],
    label: str | None = None,
) -> models.Interest:
    """An interest from papers already stored (arXiv id or URL, DOI, listing id)."""
    seeds = [resolve_seed(session, ref) for ref in references]
    ids = [row.id for row in seeds if row.id is not None]
    found, vectors = listing_vectors(session, encoder.model_name, ids)
    missing = [row for row in seeds if row.id not in set(found.tolist())]
    if missing:  # ingested with --no-embed: embed just these
        extra = encoder.encode([listing_text(row.title, row.abstract) for row in missing])
        vectors = np.vstack([vectors, extra]) if len(found) else extra
    default = seeds[0].title + (f" (+{len(seeds) - 1} more)" if len(seeds) > 1 else "")
    row = _row(subscriber_id, label or default, vectors, encoder.model_name, seed_listing_ids=ids)
    session.add(row)
    return row


def _stored_text(session: Session, entry: BibEntry) -> str:
    """A paper already stored is represented by its stored text (usually richer than the export's)."""
    row = None
    if entry.arxiv_id:
        row = session.exec(select(models.Listing).where(models.Listing.arxiv_id == entry.arxiv_id)).first()
    if row is None and entry.doi:
        row = session.exec(select(models.Listing).where(models.Listing.doi == entry.doi)).first()
    return listing_text(row.title, row.abstract) if row else listing_text(entry.title, entry.abstract)


def bib_interests(
    session: Session, encoder: Encoder, subscriber_id: int, parsed: BibImport
) -> list[models.Interest]:
    """Seed papers from BibTeX, grouped by topic so each topic keeps its own digest slots."""
    from profiles.model import interests_from_papers, unit  # scikit-learn et al. only when needed

    if not parsed.entries:
        raise InvalidInput(
            "no usable BibTeX entries (each needs at least a title): " + "; ".join(parsed.warnings[:3])
        )
    texts = [_stored_text(session, e) for e in parsed.entries]
    vectors = vectors_for_texts(session, encoder, texts)
    rows = []
    for group in interests_from_papers(vectors, [e.title for e in parsed.entries]):
        assert group.seed_vectors is not None
        members = np.argmax(group.seed_vectors @ unit(vectors).T, axis=1)  # the entries it is made of
        seeds = [texts[i] for i in members]
        row = _row(subscriber_id, group.label, group.seed_vectors, encoder.model_name, seed_texts=seeds)
        rows.append(row)
        session.add(row)
    return rows
