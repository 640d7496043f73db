"""Recordings on the item page: each one's MP3/AAC alternative beside the Ogg original (for
Safari), and how often a clip may be played (the ``clip_plays`` accommodation), held by the
server.

Without the accommodation a clip is the item's ``/media/<sha256>`` as before. With it, the item
page links each recording of the served item through ``/take/<attempt>/clip/<position>/<sha256>``
instead, and this route counts: a request from byte 0 (no ``Range``, or ``Range: bytes=0-…``) is a
play; a request for a later byte range continues the same play (seeking, a browser fetching in
parts) and is not counted. After the limit the route answers 403 with a sentence, and the item
page shows that sentence in place of the player. ``take.js`` also disables the player after that
many ``ended`` events, since a browser may replay from its own buffer without asking again: the
server's count is of downloads, the page's of plays, and a candidate gets at most the limit of
either.

The counts are kept in the attempt's accommodations (``clip_plays_used``: ``"<position>:<sha>"``
→ plays), written in the request's transaction; only a clip of the item served at that position
is served, so an attempt's link opens nothing else."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from etest.attempt import pinned, service
from etest.attempt.schemas import ItemView, MediaView
from etest.candidate.accommodations import read
from etest.content.media import MediaStore
from etest.deps import SessionDep, SettingsDep
from etest.models import AttemptItem, Item
from etest.web import cookie
from etest.web.pages import PageRoute, error_page

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: The key of the counts in ``attempts.accommodations``.
USED = "clip_plays_used"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_FROM_START = re.compile(r"^bytes=0-\d*$")


class Recording(MediaView):
    """A recording as the page plays it: its MP3/AAC alternative (a second ``<source>``) and,
    under a play limit, how many plays are left."""

    alternative_url: str | None = None
    alternative_type: str | None = None
    limit: int | None = None
    plays_left: int | None = None


def _key(position: int, sha256: str) -> str:
    return f"{position}:{sha256}"


def _alternatives(item: Item) -> dict[str, dict[str, str]]:
    """The item's recordings that have an alternative: sha256 → its alternative's ref."""
    refs = [(item.stimulus or {}).get("audio")]
    refs += [o.get("audio") for o in item.options] + [t.get("audio") for t in item.targets]
    return {r["media"]: r["alternative"] for r in refs if r and r.get("alternative")}


def recordings(
    view: ItemView,
    item: Item,
    attempt_id: uuid.UUID,
    position: int,
    stored: dict[str, Any] | None,
) -> ItemView:
    """The item view with each recording's alternative source, and, when the attempt has a play
    limit, its recordings linked through the counting route (else the view as it is)."""
    limit = read(stored).clip_plays
    alternatives = _alternatives(item)
    if limit is None and not alternatives:
        return view
    used = (stored or {}).get(USED) or {}

    def url(sha: str) -> str:
        if limit is None:
            return f"/media/{sha}"
        return f"/take/{attempt_id}/clip/{position}/{sha}"

    def clip(media: MediaView | None) -> MediaView | None:
        if media is None or not media.content_type.startswith("audio/"):
            return media
        sha = media.url.rsplit("/", 1)[-1]
        other = alternatives.get(sha)
        return Recording(
            url=url(sha),
            content_type=media.content_type,
            alt=media.alt,
            alternative_url=url(other["media"]) if other else None,
            alternative_type=other["content_type"] if other else None,
            limit=limit,
            plays_left=None
            if limit is None
            else max(0, limit - int(used.get(_key(position, sha), 0))),
        )

    stimulus = view.stimulus
    if stimulus is not None:
        stimulus = stimulus.model_copy(update={"audio": clip(stimulus.audio)})
    return view.model_copy(
        update={
            "stimulus": stimulus,
            "options": [o.model_copy(update={"audio": clip(o.audio)}) for o in view.options],
            "targets": [t.model_copy(update={"audio": clip(t.audio)}) for t in view.targets],
        }
    )


def _recordings(item: Item) -> dict[str, tuple[str, str]]:
    """The item's recordings and their alternatives: sha256 → (content type, the sha256 its
    plays are counted under: the main recording's, whichever source the browser picked)."""
    refs = [(item.stimulus or {}).get("audio")]
    refs += [o.get("audio") for o in item.options] + [t.get("audio") for t in item.targets]
    found: dict[str, tuple[str, str]] = {}
    for r in refs:
        if r:
            found[r["media"]] = (r["content_type"], r["media"])
            if r.get("alternative"):
                alt = r["alternative"]
                found[alt["media"]] = (alt["content_type"], r["media"])
    return found


def _refused(limit: int) -> Response:
    return error_page(
        403,
        f"You have played this recording {limit} times; it cannot be played again.",
    )


@router.get("/take/{attempt_id}/clip/{position}/{sha256}")
async def clip(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: str,
    position: int,
    sha256: str,
) -> Response:
    credential = cookie.read(request)
    if credential is None or str(credential.attempt_id) != attempt_id or not _SHA.match(sha256):
        return error_page(404, "There is no such recording in your test.")
    attempt = await service.get_for_candidate(
        session, settings, credential.attempt_id, credential.secret
    )
    served = await session.get(AttemptItem, (attempt.id, position))
    item = await pinned.item(session, served.item_id) if served is not None else None
    found = _recordings(item).get(sha256) if item is not None else None
    path = MediaStore(settings.media_path).path(sha256)
    if found is None or not path.is_file():
        return error_page(404, "There is no such recording in your test.")
    content_type, counted = found
    limit = read(attempt.accommodations).clip_plays
    if limit is not None and _FROM_START.match(request.headers.get("range") or "bytes=0-"):
        stored = dict(attempt.accommodations or {})
        used = dict(stored.get(USED) or {})
        key = _key(position, counted)
        if int(used.get(key, 0)) >= limit:
            return _refused(limit)
        used[key] = int(used.get(key, 0)) + 1
        attempt.accommodations = {**stored, USED: used}
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": "no-store"})
