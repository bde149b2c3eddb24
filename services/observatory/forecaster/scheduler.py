"""The forecaster's scheduler: model refreshes (per-metric interval), anomaly gauge updates, the
console's day rollups (forecaster/rollups.py), the monthly churn run and report emails, in one
asyncio task. A Companion (name, start, stop, ready) so all-in-one can host it.

Blocking work (ClickHouse queries, Prophet fits, SMTP) runs in threads; one job failing never stops
the loop: it is logged, counted, and retried after OBS_FORECASTER_RETRY_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from observatory.forecaster.model import InsufficientHistory
from observatory.forecaster.service import ForecastService
from observatory.reports import schedule as report_schedule
from observatory.settings import ReportSettings

log = logging.getLogger("observatory.forecaster")
ROLLUP_INTERVAL = timedelta(minutes=1)  # the console's day rollups are brought up to date this often


class Scheduler:
    name = "forecaster"

    def __init__(
        self,
        service: ForecastService,
        reports: ReportSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        churn=None,
    ) -> None:
        self.service = service
        self.churn = churn  # a ChurnService: scored once per month (checked hourly)
        self.next_churn: datetime | None = None
        self.settings = service.settings
        self.reports = reports
        self.clock = clock or service.clock
        self.next_refresh: dict[str, datetime] = {}
        self.next_evaluate: datetime | None = None
        self.next_rollups: datetime | None = None
        self.next_report: dict[str, datetime] = {}
        self.schedules = []
        if reports is not None and reports.recipient_list():
            self.schedules = [
                s
                for s in (
                    report_schedule.parse("daily", reports.daily_at),
                    report_schedule.parse("weekly", reports.weekly_at),
                    report_schedule.parse("monthly", reports.monthly_at),
                )
                if s
            ]
        self._task: asyncio.Task | None = None
        self.last_error: str | None = None
        self.closers: list[Callable[[], None]] = []  # run at stop (all-in-one: close the store client)

    # -- Companion ------------------------------------------------------------------------------
    def plan(self, now: datetime) -> None:
        """First run time of each report after `now` (reports never run at start-up)."""
        for s in self.schedules:
            self.next_report[s.kind] = s.next_after(now)

    async def start(self) -> None:
        self.plan(self.clock())
        await asyncio.to_thread(self.service.ping)
        self._task = asyncio.create_task(self._loop(), name="forecaster-scheduler")
        log.info(
            "forecaster scheduler started",
            extra={
                "metrics": self.settings.metric_list(),
                "reports": {k: v.isoformat() for k, v in self.next_report.items()},
            },
        )

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for close in self.closers:
            with contextlib.suppress(Exception):
                close()
        self.closers.clear()

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def ready(self) -> bool:
        return self.running() and self.service.store_ok

    # -- work -----------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must survive anything
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.settings.tick_s)

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Run what is due at `now`; returns what ran (for tests and logs)."""
        now = now or self.clock()
        ran: list[str] = []
        if not await asyncio.to_thread(self.service.ping):
            return ran
        retry = timedelta(seconds=self.settings.retry_s)
        for metric in self.settings.metric_list():
            if now < self.next_refresh.get(metric, datetime.min.replace(tzinfo=UTC)):
                continue
            try:
                await self.service.refresh(metric, "day")
                self.next_refresh[metric] = now + timedelta(seconds=self.settings.refresh_s(metric))
                ran.append(f"refresh:{metric}")
            except InsufficientHistory as exc:
                self.next_refresh[metric] = now + retry
                log.info("not enough history to forecast %s: %s", metric, exc)
            except Exception as exc:  # noqa: BLE001
                self.next_refresh[metric] = now + retry
                self.last_error = f"refresh {metric}: {exc}"
                log.exception("model refresh failed", extra={"metric": metric})
        if self.next_evaluate is None or now >= self.next_evaluate:
            try:
                await asyncio.to_thread(self.service.evaluate, now)
                ran.append("evaluate")
            except Exception as exc:  # noqa: BLE001
                self.last_error = f"evaluate: {exc}"
                log.exception("anomaly evaluation failed")
            self.next_evaluate = now + timedelta(seconds=self.settings.evaluate_interval_s)
        if self.next_rollups is None or now >= self.next_rollups:
            await self._rollups(now, ran)
        if self.churn is not None and (self.next_churn is None or now >= self.next_churn):
            await self._churn(now, ran)
        for s in self.schedules:
            if now >= self.next_report[s.kind]:
                await self.send_report(s.kind, now)
                self.next_report[s.kind] = s.next_after(now)
                ran.append(f"report:{s.kind}")
        return ran

    async def _rollups(self, now: datetime, ran: list[str]) -> None:
        self.next_rollups = now + ROLLUP_INTERVAL
        try:
            days = await asyncio.to_thread(self.service.rollups.warm, now)
            ran.append("rollups")
            if days:
                log.info("console day rollups: %d days computed", days)
        except Exception as exc:  # noqa: BLE001
            self.last_error = f"rollups: {exc}"
            log.exception("console day rollup refresh failed")

    async def _churn(self, now: datetime, ran: list[str]) -> None:
        from observatory.churn.service import InsufficientChurnData

        self.next_churn = now + timedelta(hours=1)
        try:
            if await asyncio.to_thread(self.churn.due, now):
                # in the fit pool (its feature reads, then the fit in a worker): HTTP fits see it as busy
                await self.service.pool.here(self.churn.run, now)
                ran.append("churn")
        except InsufficientChurnData as exc:
            log.info("no churn model yet: %s", exc)
        except Exception as exc:  # noqa: BLE001
            self.last_error = f"churn: {exc}"
            log.exception("churn scoring failed")

    async def send_report(self, kind: str, now: datetime) -> bool:
        from observatory.reports.mail import send_report

        assert self.reports is not None  # schedules exist only with report settings
        metrics = self.service.metrics
        try:
            await asyncio.to_thread(send_report, kind, self.service.analytics, self.reports, now, self.service)
            metrics.reports_sent.labels(kind).inc()
            return True
        except Exception as exc:  # noqa: BLE001
            metrics.report_failures.labels(kind).inc()
            self.last_error = f"report {kind}: {exc}"
            log.exception("report failed", extra={"kind": kind})
            return False
