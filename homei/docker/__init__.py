"""The Docker Engine: the client Homei drives it through, and the containers it runs."""
