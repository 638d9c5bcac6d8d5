"""The consumer: Event Hubs -> reassembled, validated records -> Parquet in the lake -> checkpoints.

The steps, in the order an event takes them (one module each):

1. `eventhub_source` - the SDK drives each owned partition's events into the sink (`sources`: the seam).
2. `pipeline` / `partition` - one processor per owned partition feeds its events, in order, to the decoder.
3. `schemas.envelope_parser` - one message body -> an envelope, or a dead letter saying why not.
4. `schemas.reassembler` - envelopes -> completed records or dead letters (state: incomplete records).
5. `outputs` - what a batch holds, each output tagged with the event that produced it.
6. `rotation` - when a batch is cut into files (rows, bytes, event time; never wall clock).
7. `columnar` / `rows` - a batch's records -> Arrow tables per event hour (usage validated in bulk, pydantic for
   the rest); whatever cannot become a row becomes a dead letter.
8. `flush_state` + `lake_writer` - write-ahead state, the files, the committed state.
9. `checkpoint_rule` - where the checkpoint may go (pure); the source writes it.
"""
