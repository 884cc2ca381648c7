"""Sinks take batches of documents and acknowledge them once durably taken."""
