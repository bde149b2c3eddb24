"""Elasticsearch: passwords of the built-in kibana_system user, the log writer/reader users and
roles, the ILM policy (rollover, 30-day retention) and the index template of the logs data stream.

Uses the official client (9.x). Files: config/elasticsearch/{ilm-policy,index-template,roles}.json.
"""

from __future__ import annotations

import json
import logging

from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError

from observatory.setup.config import SetupSettings, require
from observatory.setup.http import SetupError, wait_for

log = logging.getLogger("observatory.setup.elasticsearch")
TEMPLATE_NAME = "observatory-logs"
FILEBEAT_USER = "filebeat_writer"
READER_USER = "logs_reader"


def client(s: SetupSettings) -> Elasticsearch:
    # the transport logs every retry with a traceback; our wait loop reports progress instead
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    return Elasticsearch(
        s.elasticsearch_url,
        basic_auth=("elastic", require(s.elastic_password, "ELASTIC_PASSWORD")),
        request_timeout=s.request_timeout_s,
        max_retries=3,
        retry_on_timeout=True,
        retry_on_status=(502, 503, 504),
    )


class _NotYet(Exception):
    pass


def wait_ready(es: Elasticsearch, s: SetupSettings) -> None:
    def probe() -> bool:
        try:
            health = es.options(max_retries=0).cluster.health(wait_for_status="yellow", timeout="5s")
        except EsConnectionError as exc:
            raise _NotYet(str(exc)) from exc
        except ApiError as exc:
            if exc.meta.status in (401, 403):
                raise SetupError(
                    f"Elasticsearch refused the elastic user ({exc.meta.status}): is "
                    "ELASTIC_PASSWORD the one the node was first started with?"
                ) from exc
            raise _NotYet(f"HTTP {exc.meta.status}") from exc
        return health["status"] in ("yellow", "green")

    wait_for(
        f"Elasticsearch at {s.elasticsearch_url} (cluster health yellow)",
        probe,
        s.timeout_s,
        s.interval_s,
        transient=(_NotYet,),
    )


def load(s: SetupSettings, name: str) -> dict:
    path = s.config_dir / "elasticsearch" / name
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SetupError(f"cannot read {path}: {exc}") from exc


def run(s: SetupSettings) -> None:
    es = client(s)
    try:
        wait_ready(es, s)
        # Kibana connects as kibana_system: it cannot start before this password is set
        es.security.change_password(
            username="kibana_system", password=require(s.kibana_system_password, "KIBANA_SYSTEM_PASSWORD")
        )
        for role, body in load(s, "roles.json").items():
            es.security.put_role(name=role, cluster=body["cluster"], indices=body["indices"])
        es.security.put_user(
            username=FILEBEAT_USER,
            password=require(s.filebeat_password, "FILEBEAT_PASSWORD"),
            roles=["observatory_logs_writer"],
            full_name="Filebeat log shipper",
        )
        es.security.put_user(
            username=READER_USER,
            password=require(s.logs_reader_password, "LOGS_READER_PASSWORD"),
            roles=["observatory_logs_reader"],
            full_name="Grafana logs datasource",
        )
        es.ilm.put_lifecycle(name=s.logs_policy, policy=load(s, "ilm-policy.json")["policy"])
        template = load(s, "index-template.json")
        template["template"]["settings"]["index.lifecycle.name"] = s.logs_policy
        es.indices.put_index_template(name=TEMPLATE_NAME, **template)
        # create the data stream now so Kibana's data view has fields before the first log arrives
        try:
            es.indices.create_data_stream(name=s.logs_data_stream)
        except ApiError as exc:
            if exc.meta.status != 400 or "already_exists" not in str(exc):
                raise
        log.info("elasticsearch provisioned", extra={"policy": s.logs_policy, "data_stream": s.logs_data_stream})
    except ApiError as exc:
        raise SetupError(f"Elasticsearch refused a setup request: {exc}") from exc
    finally:
        es.close()
