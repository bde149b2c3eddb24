"""One-shot provisioning of the compose stack's UIs and stores: `observatory setup <target>`.

One module per target (elasticsearch, kibana, grafana, metabase), the shared HTTP wait/retry
plumbing in `http`, settings in `config`, and the RabbitMQ definitions file in `rabbitmq`.
Every step is idempotent: running `observatory setup all` twice changes nothing the second time.
"""

TARGETS = ("elasticsearch", "kibana", "metabase", "grafana")
