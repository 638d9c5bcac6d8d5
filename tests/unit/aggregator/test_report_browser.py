"""`chargeback report` opened in a real headless Chromium, offline: the page loads, the charts draw, pixels vary."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from tests.unit.aggregator.cli_app import invoke

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--window-size=1000,1400",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit non-interlaced RGB/RGBA PNG (what Chromium writes) into rows of raw pixel bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r) for r in rows], channels  # type: ignore[return-value]


def test_report_loads_offline_draws_its_charts_and_is_not_blank(aggregated_lake, tmp_path):
    report = tmp_path / "report.html"
    result = invoke(["report", "--month", "2026-11", "--out", str(report)], aggregated_lake.env)
    assert result.exit_code == 0, result.output
    html = report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the report must not fetch anything"
    assert "975.53" in html, "the month's total (hand-computed) is on the page"
    for section in ("Cost by team per day", "Top models", "Top deployments", "Unpriced usage", "Dead letters"):
        assert section in html

    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert 'data-report-ready="yes"' in dom, "the page's script ran to the end"
    charts = re.findall(r'<svg class="chart"[^>]*>', dom)
    assert len(charts) == 3
    for tag in charts:
        width = int(re.search(r'data-rendered-width="(\d+)"', tag).group(1))
        height = int(re.search(r'data-rendered-height="(\d+)"', tag).group(1))
        bars = int(re.search(r'data-rendered-bars="(\d+)"', tag).group(1))
        assert width > 100 and height > 100 and bars >= 3, tag
    assert "checksum_mismatch" in dom and "unknown_deployment" in dom

    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", report.as_uri())
    width, height, rows, channels = png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 1400)
    colours = {row[i : i + 3] for row in rows[::7] for i in range(0, len(row), channels * 5)}
    assert len(colours) > 20, "a blank (or single-colour) page has no variance"
    blue = bytes.fromhex("2563eb")
    assert any(blue in row for row in rows), "the first series colour is painted"
