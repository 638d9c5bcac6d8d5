"""The floor every stage stands on: exit codes, the error hierarchy, redaction and logging.

Every stage (`schemas`, `localhub`, `producer_policy`, `consumer`, `aggregator`) may import from here; nothing here
imports a stage or the `chargeback` command shell. Keep it that way: a module that needs a stage belongs in that stage.
"""
