"""The remote program itself: POSIX sh that shellcheck accepts, and the same output under dash and bash."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mailcert.gather import gather_argv, gather_command, gather_script
from mailcert.gather.document import parse_document

SCRIPT = Path(__file__).resolve().parents[2] / "mailcert" / "gather" / "gather.sh"


def test_script_is_clean_posix_sh() -> None:
    # installed by scripts/install-system-deps
    result = subprocess.run(["shellcheck", "-s", "sh", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_shipped_script_is_the_file_and_the_command_quotes_it() -> None:
    assert gather_script() == SCRIPT.read_text()
    command = gather_command("/srv/host root")
    assert command.startswith("sh -c '") and command.endswith(" mailcert-gather '/srv/host root'")


def test_same_document_under_dash_and_bash_posix(tmp_path: Path) -> None:
    root = tmp_path / "host"
    (root / "etc/postfix").mkdir(parents=True)
    (root / "etc/postfix/main.cf").write_text("myhostname = mx.example.test\n")
    documents = []
    for shell in (["dash"], ["bash", "--posix"]):
        assert shutil.which(shell[0]), shell
        argv = gather_argv(str(root))
        out = subprocess.run([*shell, *argv[1:]], capture_output=True, text=True, check=True).stdout
        kept = [r for r in parse_document(out).records if r.kind in ("path", "text", "walked")]
        documents.append([(r.kind, r.name, r.body) for r in kept])
    assert documents[0] == documents[1]
    assert ("text", "/etc/postfix/main.cf", b"myhostname = mx.example.test\n") in documents[0]
