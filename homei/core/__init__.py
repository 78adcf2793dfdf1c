"""Cross-cutting pieces every domain uses; imports nothing else of Homei."""
