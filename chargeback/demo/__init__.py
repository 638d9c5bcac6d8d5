"""`chargeback demo`: the whole pipeline on one machine, on synthetic traffic."""
