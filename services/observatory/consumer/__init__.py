"""RabbitMQ → ClickHouse: decode, batch, insert, then ack; poison to the dead-letter queue."""
