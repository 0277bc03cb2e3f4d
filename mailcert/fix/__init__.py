"""`fix`: plan (pure, from audit facts) → show → apply on the host (backup, write, validate, reload) →
re-probe → keep or roll back."""
