"""The checkpointed consumer: chunk envelopes from Event Hubs in, validated Parquet in the lake out."""
