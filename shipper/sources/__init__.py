"""Sources read entries (text lines or journal field sets) and hand them on in chunks."""
