"""apply.sh reports outcomes the control side tells apart by exit status: the values it documents and sets are
the named constants of mailcert/fix/worker/__init__.py."""

from __future__ import annotations

import re

from mailcert.fix import worker


def test_apply_sh_sets_the_exit_codes_the_control_side_names() -> None:
    script = worker.apply_script()
    set_in_script = {name: int(value) for name, value in re.findall(r"^(EXIT_[A-Z_]+)=(\d+)$", script, re.M)}
    named = {name: getattr(worker, name) for name in set_in_script}
    assert set_in_script == named == {"EXIT_FAILED": 2, "EXIT_NO_RECORD": 3, "EXIT_BUSY": 4}
    for name, value in set_in_script.items():  # documented at the top, with the code
        assert re.search(rf"^#   {value} .*\({name}\)|^#   {value} refused", script, re.M), name


def test_every_exit_of_apply_sh_is_a_named_code_or_success() -> None:
    code = "\n".join(ln for ln in worker.apply_script().splitlines() if not ln.lstrip().startswith("#"))
    exits = set(re.findall(r"\bexit (\S+?)[\s;)}]", code + "\n"))
    # `exit 1` is awk's, inside merge_edit; "(exit $rc)" is text of a failure reason
    assert exits <= {"0", '"$EXIT_FAILED"', '"$EXIT_NO_RECORD"', '"$EXIT_BUSY"', "1", "$rc"}, exits
