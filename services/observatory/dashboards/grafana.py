"""A Grafana dashboard under construction: the fixed frame every Observatory dashboard shares (tags,
time picker, the built-in annotations, the link to the other dashboards) and the grid layout that
places panels left to right, 24 columns wide, a row header starting a new line.

Why plain dicts and not Grafana's grafana-foundation-sdk builders (on PyPI; tried 11.6.0): with
every option of the SLO dashboard's first stat panel set through its builders, its JSON still adds
five keys the committed file does not have (transparent, repeatDirection, wideLayout,
showPercentChange, percentChangeColorMode), orders keys its own way and leaves panel ids to the
caller, and it has no builder for the ClickHouse datasource's queries; adopting it would change every
committed dashboard and still need dicts for the business panels."""

from __future__ import annotations

import json
from typing import Any

Panel = dict[str, Any]

GRID_WIDTH = 24


class Dash:
    """One dashboard: `row()` starts a titled row, `add(panel, w, h)` places a panel (a new line
    when it does not fit), `text()` is the JSON Grafana provisions from dashboards/grafana/."""

    def __init__(
        self,
        uid: str,
        title: str,
        description: str,
        tags: list[str],
        time_from: str = "now-6h",
        refresh: str = "30s",
    ) -> None:
        self.d: dict[str, Any] = {
            "id": None,
            "uid": uid,
            "title": title,
            "description": description,
            "tags": ["observatory"] + tags,
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": 41,
            "version": 1,
            "refresh": refresh,
            "time": {"from": time_from, "to": "now"},
            "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m", "1h"]},
            "templating": {"list": []},
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "links": [
                {
                    "title": "Observatory dashboards",
                    "type": "dashboards",
                    "tags": ["observatory"],
                    "asDropdown": True,
                    "includeVars": False,
                    "keepTime": True,
                    "icon": "external link",
                    "tooltip": "",
                    "targetBlank": False,
                },
                {
                    # the forecaster's private port as compose publishes it on the Docker host
                    "title": "Web console",
                    "type": "link",
                    "url": "http://localhost:8091/console/",
                    "icon": "external link",
                    "tooltip": "Observatory web console (sign in with a read key)",
                    "targetBlank": True,
                    "asDropdown": False,
                    "includeVars": False,
                    "keepTime": False,
                    "tags": [],
                },
            ],
            "panels": [],
        }
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.next_id = 1

    def row(self, title: str) -> None:
        self.newline()
        self.d["panels"].append(
            {
                "id": self.next_id,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.next_id += 1
        self.y += 1

    def newline(self) -> None:
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def add(self, panel: Panel, w: int, h: int) -> None:
        if self.x + w > GRID_WIDTH:
            self.newline()
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.d["panels"].append(panel)

    def text(self) -> str:
        return json.dumps(self.d, indent=2) + "\n"
