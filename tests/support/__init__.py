"""The test library: what tests share, so no test imports another test module or another tier's helpers.

Servers and processes
- `azurite.Azurite`: Azurite on a free port (stop/start keeps port and data); the `azurite` fixture.
- `localhub`: the local Event Hubs server in-process (`running_localhub`) or as a process (`LocalHubProcess`).
- `consumer_process`: `chargeback consume` as a real process (`consumer_env`, `start_consumer`, `run_consumer`) and
  the encoded usage messages to send it (`usage_messages`); `sending.send` sends (key, envelope) pairs per partition.
- `ports`: free ports, one slice per xdist worker; `wait_for_port(..., process=)`.

Builders and ground truth
- `lake_builder`: rows and files of a lake written directly (`LakeBuilder`, `usage_row`, `payload_row`, ...).
- `handcomputed`: the month worked out on paper, built into a lake; `pricing`: its price sheet, deployments map and
  PTU config (`write_config`, `env_for`).
- `streams`: consumer input (records, `Stream`) and a pipeline `Harness` on a local lake, plus `read`/`read_column`.
- `strategies`: hypothesis strategies for the wire contract; `exchanges` / `policy_checks`: APIM exchanges for the
  policy and what must hold for each.

Environments and readers
- `lakes`: `LakeEnv` (local or Azurite lake + checkpoints as CHARGEBACK_* variables; the `lake` fixture picks the
  backend from `--lake-backend`), `lake_ids` / `lake_column` / `table_dataset` / `duckdb_over_lake` for any lake.
- `aggregator_cli.invoke`: the aggregator's commands run in-process.
- `profiles`: hypothesis profiles (`HYPOTHESIS_PROFILE=fast|nominal|deep`) and `examples(n)` for a property's count.
- `moved`: the old import paths of the helpers that moved here this session (kept for one session).

Infrastructure checks: `bicep`, `bicep_refs`, `infra_rules`, `checkov`.
"""
