"""Performance tooling: a bulk generator of realistic data (``flask caseflow generate``)."""
