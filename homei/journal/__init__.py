"""Reading journald: a unit's log or the device's own, by cursor, time, count and priority."""
