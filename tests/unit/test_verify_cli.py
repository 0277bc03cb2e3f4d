"""`mailcert verify` on the command line, without a reachable host: bad options are one line and exit 3
before any SSH; an unreachable host is a cron line, an UNKNOWN Nagios line, host_up 0 and exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailcert.cli import build_program


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yml"
    # known_hosts that does not exist: the host fails at once, before any packet is sent.
    path.write_text(
        "all:\n  hosts:\n    mx1:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n"
        f"      mailcert_known_hosts: {tmp_path / 'missing_known_hosts'}\n"
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str, int]:
    with pytest.raises(SystemExit) as exited:
        build_program().run(["mailcert", "verify", *argv])
    captured = capsys.readouterr()
    return captured.out, captured.err, int(exited.value.code or 0)


def test_bad_options_are_one_line_and_exit_3(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err, code = run(capsys, "-I", str(inventory), "--format", "xml")
    assert (out, code) == (
        "",
        3,
    ) and err == "mailcert: verify --format xml: unknown — use one of: text, nagios, json\n"
    out, err, code = run(capsys, "-I", str(inventory), "--prometheus", str(tmp_path / "m.txt"))
    assert code == 3 and "reads only files ending in .prom" in err and err.count("\n") == 1
    broken = tmp_path / "state.json"
    broken.write_text("{not json")
    out, err, code = run(capsys, "-I", str(inventory), "--state", str(broken))
    assert code == 3 and err.startswith(f"mailcert: {broken}: not a mailcert verify state file")
    assert broken.read_text() == "{not json"  # left alone for the admin to look at


def test_unreachable_host_in_every_output(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prom = tmp_path / "mailcert.prom"
    state = tmp_path / "state.json"
    out, _err, code = run(capsys, "-I", str(inventory), "--prometheus", str(prom), "--state", str(state))
    assert code == 3
    [line] = out.splitlines()
    assert line.startswith("mx1 host.unreachable — ") and "known_hosts" in line
    samples = {s.name: s.value for f in text_string_to_metric_families(prom.read_text()) for s in f.samples}
    assert samples["mailcert_host_up"] == 0 and samples["mailcert_host_status"] == 3
    assert state.is_file()
    out, _err, code = run(capsys, "-I", str(inventory), "--format", "nagios")
    assert (out, code) == ("MAILCERT UNKNOWN - 1 host not checked\n", 3)
