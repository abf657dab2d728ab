"""The framework-neutral workflow both adapters share: fit settings and the fit
(:mod:`.fitting`), and one store's ledgered swap, revert, status, finish and rollback
(:mod:`.store`)."""

from nudge_integrations.session.fitting import FitSpec, Fitted, StoreSource, judgements, run_fit
from nudge_integrations.session.store import StoreSession, remember, remembered
from nudge_integrations.session.verbs import StoreVerbs

__all__ = [
    "FitSpec",
    "Fitted",
    "StoreSession",
    "StoreSource",
    "StoreVerbs",
    "judgements",
    "remember",
    "remembered",
    "run_fit",
]
