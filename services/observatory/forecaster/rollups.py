"""The web console's day rollups (store/web.py: sessions per day; store/business.py: users and
products per day), one instance of each per forecaster process, so the read API and the scheduler
share their lock. The scheduler keeps them warm (`warm`, at most once a minute): a page's first
request then finds every past day computed instead of computing a large store's history in the
request (10M events: about 25 s for the web page), and later requests recompute only the days that
changed since.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from observatory.store.analytics import Analytics
from observatory.store.business import FIRST_DAY, BusinessRollup
from observatory.store.web import WebOverview
from observatory.store.web_request import PERIODS

# the longest range the web page offers and its previous period, ending tomorrow (today included)
WEB_DAYS = 2 * max(PERIODS.values())


class ConsoleRollups:
    def __init__(self, analytics: Analytics) -> None:
        self.web = WebOverview(analytics)
        self.business = BusinessRollup(analytics)

    def warm(self, now: datetime) -> int:
        """Bring the web rollup's last WEB_DAYS days and today, and every day of the business rollup
        (retention reads each user's first day), up to date; returns the days computed."""
        tomorrow = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time.min, UTC)
        days = self.web.refresh(tomorrow - timedelta(days=WEB_DAYS + 1), tomorrow)
        return days + self.business.refresh(FIRST_DAY, tomorrow.date())
