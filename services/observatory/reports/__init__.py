"""Scheduled KPI reports: an HTML email (KPI table vs the previous period, forecast chart as an
inline PNG) sent over SMTP by `observatory report daily|weekly` and by the forecaster's scheduler."""
