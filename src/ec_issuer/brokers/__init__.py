"""Adapters of the EventPublisher port (events/ports.py): NATS JetStream and RabbitMQ."""
