"""Plan `fix` for one host: a pure function of the audit's facts, findings and the inventory."""
