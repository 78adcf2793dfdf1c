"""Device configuration, per-service environments and secrets sealed with the device key."""
