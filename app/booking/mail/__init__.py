"""Email to customers and staff: composed in the request's transaction, sent later by the outbox worker."""
