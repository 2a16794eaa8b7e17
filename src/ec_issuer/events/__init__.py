"""Domain events as CloudEvents 1.0, written to an outbox in the transaction of the change they report."""
