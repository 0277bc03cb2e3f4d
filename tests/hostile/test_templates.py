"""Templates: values from hosts and inventories are data, never template code; a template that reaches
for Python internals is refused by the sandbox; the written hook quotes every value for sh."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from mailcert.errors import MailcertError
from mailcert.fix.roles import load_roles
from mailcert.model import Report
from mailcert.report import render
from tests.hostile.test_report_values import NOW, _report

ESCAPE = "{{ ''.__class__.__mro__[1].__subclasses__() }}{% for x in range(3) %}loop{% endfor %}"


def _role(tmp_path: Path, template: str) -> Path:
    role = tmp_path / "roles/probe"
    (role / "templates").mkdir(parents=True)
    (role / "role.yml").write_text("service: probe\ntemplates:\n  main: main.j2\n")
    (role / "templates/main.j2").write_text(template)
    return tmp_path / "roles"


def test_a_value_that_looks_like_a_template_stays_data(tmp_path: Path) -> None:
    roles = load_roles([_role(tmp_path, "name={{ name }} quoted={{ name | shell_quote }}\n")])
    text = roles.render("probe", "main", {"name": ESCAPE})
    assert text == f"name={ESCAPE} quoted={shlex.quote(ESCAPE)}\n"  # as written: not rendered a second time


def test_a_template_reaching_for_python_internals_is_refused(tmp_path: Path) -> None:
    roles = load_roles([_role(tmp_path, "{{ ''.__class__.__mro__[1].__subclasses__() }}\n")])
    with pytest.raises(MailcertError, match="cannot render template"):
        roles.render("probe", "main", {})


def test_a_template_cannot_change_the_values_it_is_given(tmp_path: Path) -> None:
    roles = load_roles([_role(tmp_path, "{{ items.append('x') }}{{ items | length }}\n")])
    items = ["a"]
    with pytest.raises(MailcertError, match="cannot render template"):
        roles.render("probe", "main", {"items": items})
    assert items == ["a"]  # the immutable sandbox refused the call


def test_deploy_hook_quotes_hostile_values_for_sh(tmp_path: Path) -> None:
    """The packaged certbot deploy hook, rendered with shell syntax in every value, runs nothing."""
    canary = tmp_path / "canary"
    touch = f"touch {canary}"
    hostile = f"/etc/letsencrypt/live/x$({touch})`{touch}`;{touch}"
    lineage = {
        "name": "mail.example.test",
        "live_dir": hostile,
        "services": ["postfix"],
        "reloads": [{"systemd": ["true", f"$({touch})"], "command": ["true", f"`{touch}`"]}],
        "postmap_tables": [f"/etc/postfix/sni;{touch}"],
    }
    text = load_roles().render(
        "certbot", "deploy_hook", {"lineages": [lineage], "postmap": ["true", f"$({touch})"]}
    )
    hook = tmp_path / "hook.sh"
    hook.write_text(text)
    for lineage_env in ("", hostile):  # run by hand (all lineages), and by certbot for that lineage
        subprocess.run(
            ["sh", str(hook)], env={"PATH": "/usr/bin:/bin", "RENEWED_LINEAGE": lineage_env}, check=False
        )
    assert not canary.exists()


def test_html_report_autoescapes_host_values() -> None:
    report: Report = _report("</td><script>alert(1)</script>" + ESCAPE)
    page = render(report, "html")
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert "__subclasses__" in page and "looploop" not in page
    assert NOW  # the shared sample report's instant
