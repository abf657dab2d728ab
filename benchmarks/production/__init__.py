"""The production-size store matrix (issue 18): data, store builders, timed cases, report."""
