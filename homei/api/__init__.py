"""HTTP and WebSocket handlers: thin translations from requests to domain calls."""
