"""The harness facade: policy documents + named values -> compiled program -> results of exchanges."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from producer_policy.errors import PolicySyntaxError
from producer_policy.harness.codegen import generate_source
from producer_policy.harness.exchange import Exchange, RunResult
from producer_policy.harness.flow import PolicyProgram, build_program
from producer_policy.harness.mono import MonoProcess, build_policy_assembly
from producer_policy.render import FRAGMENT_IDS, POLICY_FILE, RenderedPolicy, fragment_file

DEFAULT_NAMED_VALUES: dict[str, str] = {
    "chargeback-stream-mode": "buffer",
    "chargeback-include-usage": "true",
    "chargeback-capture": "none",
    "chargeback-client-ip": "hashed",
    "chargeback-ip-salt": "local-simulation-salt",
    "chargeback-tag-headers": "x-team,x-cost-center,x-project",
}
"""The Bicep's defaults; the salt is a placeholder (in Azure it is a secret named value)."""


@dataclass(frozen=True, slots=True)
class PolicyDocuments:
    policy: str
    fragments: dict[str, str]
    """fragment id -> text"""

    @classmethod
    def from_rendered(cls, rendered: RenderedPolicy) -> PolicyDocuments:
        return cls(
            policy=rendered.files[POLICY_FILE],
            fragments={fid: rendered.files[fragment_file(fid)] for fid in FRAGMENT_IDS},
        )

    @classmethod
    def from_directory(cls, directory: Path) -> PolicyDocuments:
        policy = directory / POLICY_FILE
        if not policy.is_file():
            raise PolicySyntaxError(f"{policy} does not exist")
        fragments = {path.stem: _read(path) for path in sorted((directory / "fragments").glob("*.xml"))}
        return cls(policy=_read(policy), fragments=fragments)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        cause = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
        raise PolicySyntaxError(f"{path}: cannot be read: {cause}") from None


@dataclass(frozen=True, slots=True)
class PreparedPolicy:
    key: str
    program: PolicyProgram
    source: str
    assembly: Path


class PolicyHarness:
    """Compiles policies and runs exchanges through them in one Mono process."""

    def __init__(self, process: MonoProcess | None = None) -> None:
        self._own = process is None
        self.process = process or MonoProcess()

    def prepare(self, documents: PolicyDocuments, named_values: dict[str, str] | None = None) -> PreparedPolicy:
        values = {**DEFAULT_NAMED_VALUES, **(named_values or {})}
        program = build_program(
            ("policy.xml", documents.policy),
            {fid: (fragment_file(fid), text) for fid, text in documents.fragments.items()},
            values,
        )
        source = generate_source(program.expressions)
        assembly = build_policy_assembly(self.process.toolchain, self.process.runner, source)
        key = hashlib.sha256((source + json.dumps(program.flow, sort_keys=True)).encode()).hexdigest()[:24]
        self.process.load(key, assembly, program.flow)
        return PreparedPolicy(key=key, program=program, source=source, assembly=assembly)

    def run(self, prepared: PreparedPolicy, exchange: Exchange) -> RunResult:
        answer = self.process.request({"op": "run", "key": prepared.key, "scenario": exchange.to_json()})
        return RunResult.from_json(answer)

    def references(self, prepared: PreparedPolicy) -> dict[int, list[str]]:
        answer = self.process.request({"op": "references", "key": prepared.key})
        return {int(entry["expr"]): list(entry["references"]) for entry in answer["references"]}

    def close(self) -> None:
        if self._own:
            self.process.close()

    def __enter__(self) -> PolicyHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
