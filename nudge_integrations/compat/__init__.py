"""Reads of third-party objects' private attributes, one small function each, with the
package versions each was checked against: the one place a framework or client release
can break them. Bottom layer: imports nothing from nudge_integrations but core.errors."""
