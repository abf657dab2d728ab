"""PostgreSQL + pgvector: a table's vectors updated in place, one transaction a request."""

from nudge_integrations.stores.pgvector.writer import (
    READ_IDS,
    PgVectorTableWriter,
    PgVectorWriter,
    pgvector_writer,
)

__all__ = ["PgVectorTableWriter", "PgVectorWriter", "pgvector_writer"]

# Transitional: the old module's page size, until the adapters bind through the registry
# (issue 17); pages now follow the writer's read limit.
PAGE = READ_IDS
