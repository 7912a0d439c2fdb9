"""Slack usergroup membership for access lists and approvers, cached briefly.

Only the usergroups the configuration names are looked up (`usergroups.users.list`), and each
answer is kept for `ttl` seconds: an approval click re-checks membership without a Web API
call per click, and a person removed from a group loses the right within a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.failures import TOKEN_ERRORS

log = logging.getLogger("appprofile.slack.groups")


class UsergroupCache:
    def __init__(
        self,
        client: WebClient,
        groups: Iterable[str],
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.groups = sorted({g for g in groups if g.startswith("S")})
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def _members_of(self, group: str) -> frozenset[str]:
        now = self.clock()
        with self._lock:
            hit = self._members.get(group)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        users = self._fetch(group)
        with self._lock:
            self._members[group] = (now, users)
        return users

    def _fetch(self, group: str) -> frozenset[str]:
        """The group's members, or none when Slack will not say: failing closed, an unreadable
        group grants nothing. Nothing Slack raises gets out; the admin finds it in the log."""
        try:
            resp = self.client.usergroups_users_list(usergroup=group)
            return frozenset(str(u) for u in resp.get("users") or [])
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in TOKEN_ERRORS:  # the bot's token or scopes: the operator's to fix
                log.error("cannot read usergroup %s: Slack rejected the bot's token (%s)", group, error)
            else:
                log.warning("cannot read usergroup %s: %s", group, error)
        except SlackClientError as exc:
            log.warning("cannot read usergroup %s: %s", group, exc)
        except OSError as exc:  # Slack unreachable (URLError, timeouts): the same, fail closed
            log.warning("cannot read usergroup %s: %s", group, getattr(exc, "reason", None) or exc.strerror)
        return frozenset()

    def __call__(self, user: str) -> set[str]:
        return {g for g in self.groups if user in self._members_of(g)}
