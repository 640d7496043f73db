"""The outbox: side effects delivered after the transaction that causes them."""
