"""Dashboards as code: the Grafana dashboards (dashboards/grafana/*.json) and the Kibana saved
objects (dashboards/kibana/*.ndjson) are generated here, and the committed files are this package's
output (`observatory dashboards build` writes them, `--check` compares; tests/config checks too).

build: what is written where, and the comparison with a folder. grafana: a dashboard's frame and
grid layout; panels: the panel and query builders; one module per Grafana dashboard (pipeline, slos,
stack_health, infrastructure, business with business_risk, frontend); kibana: the saved objects.
Nothing runs at import time. The Metabase dashboards are YAML (dashboards/metabase), not generated.
Why plain dicts rather than grafana-foundation-sdk: see the grafana module.
"""
