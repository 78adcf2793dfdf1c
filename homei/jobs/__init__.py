"""Systems reached over SSH (and the device itself), and jobs that run commands on them."""
