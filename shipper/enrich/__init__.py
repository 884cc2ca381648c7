"""Enrichers add to parsed documents: root-cause signatures, hints, incident links."""
