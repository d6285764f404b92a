"""Typed configuration: one loader, one schema, one builder; errors name the file and the key."""
