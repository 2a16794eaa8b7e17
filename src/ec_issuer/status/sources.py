"""Where a verifier gets status lists: ours straight from the publisher, anyone else's from a fetcher."""

from __future__ import annotations

from ec_issuer.core.errors import NotFound, Unavailable
from ec_issuer.signing.jose import VC_JWT_MEDIA_TYPE
from ec_issuer.status.lists import StatusListUrls
from ec_issuer.status.ports import FetchedList, StatusListSource, StatusListUnavailable
from ec_issuer.status.publication import STATUS_LIST_JWT_MEDIA_TYPE, StatusListPublisher


class LocalFirstStatusLists:
    """Lists under our own base URL are read from the publisher (no HTTP round trip to ourselves, the
    same bytes a verifier would download); other URLs go to ``remote``, or are unavailable without one."""

    def __init__(self, urls: StatusListUrls, publisher: StatusListPublisher, remote: StatusListSource | None) -> None:
        self._urls = urls
        self._publisher = publisher
        self._remote = remote

    def fetch(self, url: str, accept: str) -> FetchedList:
        list_id = self._urls.list_id_for_url(url)
        if list_id is None:
            if self._remote is None:
                raise StatusListUnavailable(f"{url} is not published here and fetching is disabled")
            return self._remote.fetch(url, accept)
        try:
            published = self._publisher.current(list_id)
        except (NotFound, Unavailable) as exc:
            # Unavailable: the list changed (a revocation) and cannot be signed again until its key backend is
            # back. A verifier then learns the list is unavailable, as for anyone else's list, and answers from
            # what it can check; an outdated list would hide the change.
            raise StatusListUnavailable(f"{url}: {exc.detail}") from None
        if published.document is None:
            return FetchedList(published.jwt, STATUS_LIST_JWT_MEDIA_TYPE)
        if VC_JWT_MEDIA_TYPE in accept:
            return FetchedList(published.jwt, VC_JWT_MEDIA_TYPE)
        return FetchedList(published.document, "application/json")
