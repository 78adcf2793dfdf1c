"""Native services as hardened systemd units: the second service runtime."""
