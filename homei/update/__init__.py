"""OS updates: bundle intake, installation through RAUC, and the boot health gate."""
