"""Fleet updates: Homei as a client of a hawkBit DDI server."""
