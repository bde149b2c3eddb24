"""RabbitMQ plumbing shared by ingest and consumer: topology, connection upkeep, confirmed publishing."""
