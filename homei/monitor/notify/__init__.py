"""Where alerts go: a webhook, email over SMTP; delivered from the outbox."""
