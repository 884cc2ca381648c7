"""Parsers turn raw entries into ECS-shaped documents. Pure: no I/O, no clock."""
