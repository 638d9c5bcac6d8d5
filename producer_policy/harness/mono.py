"""Compile with `mcs` and run the harness process under `mono` (one process, many scenarios over stdin)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from producer_policy.errors import CacheDirError, CompileError, HarnessError, MonoUnavailableError
from producer_policy.settings import get_settings

GAC_NEWTONSOFT = Path("/usr/lib/mono/gac/Newtonsoft.Json")
REFERENCES = ("System.Core", "System.Xml", "System.Xml.Linq")
INSTALL_HINT = "install the Debian packages mono-mcs mono-runtime libnewtonsoft-json5.0-cil (`make mono`)"


@dataclass(frozen=True, slots=True)
class Toolchain:
    mcs: str
    mono: str
    newtonsoft: Path


def find_toolchain() -> Toolchain:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    if not mcs or not mono:
        raise MonoUnavailableError(f"mono and mcs are required to run the policy locally: {INSTALL_HINT}")
    configured = get_settings().newtonsoft_dll
    if configured is not None:
        if not configured.is_file():
            raise MonoUnavailableError(f"CHARGEBACK_POLICY_NEWTONSOFT_DLL={configured} does not exist")
        return Toolchain(mcs, mono, configured)
    found = sorted(GAC_NEWTONSOFT.glob("*/Newtonsoft.Json.dll")) if GAC_NEWTONSOFT.is_dir() else []
    if not found:
        raise MonoUnavailableError(f"Newtonsoft.Json is not in Mono's GAC: {INSTALL_HINT}")
    return Toolchain(mcs, mono, found[-1])


def _runner_sources() -> list[tuple[str, str]]:
    folder = Path(__file__).resolve().parent / "cs"
    return sorted((path.name, path.read_text(encoding="utf-8")) for path in folder.glob("*.cs"))


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def _compile(toolchain: Toolchain, target: str, out: Path, sources: list[Path], refs: list[str]) -> None:
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    cmd = [
        toolchain.mcs,
        "-nologo",
        "-debug-",
        "-optimize+",
        f"-target:{target}",
        f"-out:{tmp}",
        f"-r:{toolchain.newtonsoft}",
        *(f"-r:{r}" for r in refs),
        *map(str, sources),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    if proc.returncode != 0:
        errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "error" in line]
        raise CompileError("C# compilation failed:\n" + "\n".join(errors or [proc.stdout + proc.stderr]))
    os.replace(tmp, out)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MONO_ENV_OPTIONS": ""})
    return env


@contextlib.contextmanager
def _cache_writes(folder: Path) -> Iterator[None]:
    """An unusable cache folder is a configuration problem (CHARGEBACK_POLICY_CACHE_DIR), not a traceback."""
    try:
        yield
    except OSError as exc:
        raise CacheDirError(
            f"CHARGEBACK_POLICY_CACHE_DIR: cannot cache compiled assemblies in {folder}: {exc.strerror or exc}"
        ) from exc


def build_runner(toolchain: Toolchain) -> Path:
    """The harness executable, compiled once per version of its sources (cached)."""
    sources = _runner_sources()
    key = _digest(str(toolchain.newtonsoft), *(f"{n}\n{t}" for n, t in sources))
    cache = get_settings().cache_dir / f"runner-{key}"
    exe = cache / f"runner-{key}.exe"
    if exe.is_file():
        return exe
    with _cache_writes(cache):
        cache.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in sources:
            path = cache / name
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        _compile(toolchain, "exe", exe, paths, list(REFERENCES))
    return exe


def build_policy_assembly(toolchain: Toolchain, runner: Path, source: str) -> Path:
    """A compiled policy (its expressions), cached by the hash of its source and of the runner."""
    key = _digest(runner.name, source)
    folder = runner.parent
    dll = folder / f"policy-{key}.dll"
    if dll.is_file():
        return dll
    src = folder / f"policy-{key}.cs"
    with _cache_writes(folder):
        src.write_text(source, encoding="utf-8")
        _compile(toolchain, "library", dll, [src], [str(runner), *REFERENCES])
    return dll


class MonoProcess:
    """One long-lived harness process. Commands and answers are JSON lines."""

    def __init__(self, toolchain: Toolchain | None = None) -> None:
        self.toolchain = toolchain or find_toolchain()
        self.runner = build_runner(self.toolchain)
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        self._proc = subprocess.Popen(
            [self.toolchain.mono, str(self.runner)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=_env(),
        )
        self._loaded: set[str] = set()

    def request(self, command: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc
        if proc.poll() is not None or proc.stdin is None or proc.stdout is None:
            raise HarnessError(f"the Mono harness exited ({proc.returncode}): {self._stderr_tail()}")
        try:
            proc.stdin.write(json.dumps(command, separators=(",", ":")).encode("utf-8") + b"\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError) as exc:
            raise HarnessError(f"the Mono harness stopped: {exc}; {self._stderr_tail()}") from exc
        if not line:
            raise HarnessError(f"the Mono harness closed its output: {self._stderr_tail()}")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            # The first line (exception type and message); the Mono stack trace below it helps nobody running a command.
            first = str(answer.get("error", answer)).strip().splitlines() or ["no detail"]
            raise HarnessError(f"the Mono harness failed: {first[0]}")
        return answer

    def load(self, key: str, assembly: Path, flow: dict[str, Any]) -> None:
        if key in self._loaded:
            return
        self.request({"op": "load", "key": key, "assembly": str(assembly), "flow": flow})
        self._loaded.add(key)

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].decode("utf-8", "replace")

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> MonoProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
