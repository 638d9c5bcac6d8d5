"""FinOps loop: budgets, alerts, notifications and opt-in enforcement, all computed from the immutable daily ledger."""
