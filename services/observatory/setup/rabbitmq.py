"""config/rabbitmq/definitions.json: the broker topology of observatory.broker.topology plus the
`observatory` user, for the compose broker's boot-time import.

The password is a placeholder that the rabbitmq container replaces with BROKER_PASSWORD (from .env)
when it starts, so the committed file holds no secret. Regenerate after a topology change:

    python -m observatory.setup.rabbitmq > config/rabbitmq/definitions.json
"""

from __future__ import annotations

import json

from observatory.broker.topology import definitions
from observatory.settings import BrokerSettings

USER = "observatory"
PASSWORD_PLACEHOLDER = "@BROKER_PASSWORD@"


def stack_definitions() -> dict:
    # the default names and limits of BrokerSettings are what the compose services use
    # field defaults only: OBS_AMQP_* variables of the shell that runs this must not leak in
    settings = BrokerSettings.model_construct(**{n: f.default for n, f in BrokerSettings.model_fields.items()})
    settings.queue_type = "quorum"  # compose sets OBS_AMQP_QUEUE_TYPE=quorum to match (replicated, delivery limit)
    users = [{"name": USER, "password": PASSWORD_PLACEHOLDER, "tags": ["administrator"], "limits": {}}]
    return definitions(settings, vhost="/", users=users)


def render() -> str:
    return json.dumps(stack_definitions(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
