"""Ansible-style inventories read without Ansible: YAML, INI, group_vars/host_vars precedence, errors with lines."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mailcert.errors import InventoryError
from mailcert.inventory import Secret, load_inventory


def write(base: Path, name: str, text: str) -> Path:
    path = base / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


YAML_FLEET = """
all:
  vars:
    ansible_user: ops
    mailcert_warn_days: 30
  hosts:
    relay:
      ansible_host: 192.0.2.10
  children:
    mail:
      vars:
        ansible_become: yes
      hosts:
        mx1:
          ansible_host: 192.0.2.1
          ansible_port: 2222
        mx[02:03].example.test:
      children:
        prod:
          hosts:
            mx1:
            imap:
              ansible_become_password: hunter2
              mailcert_hostnames: [IMAP.example.test, mail.example.test.]
"""


def test_yaml_inventory_hosts_groups_and_typed_variables(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts.yml", YAML_FLEET))
    assert [h.name for h in inventory.hosts] == [
        "relay",
        "mx1",
        "mx02.example.test",
        "mx03.example.test",
        "imap",
    ]
    mx1 = inventory.host("mx1")
    assert (mx1.address, mx1.port, mx1.user, mx1.become) == ("192.0.2.1", 2222, "ops", True)
    assert mx1.groups == ("mail", "prod")
    assert inventory.host("mx02.example.test").address == "mx02.example.test"  # no ansible_host: the name
    assert inventory.host("relay").groups == ("ungrouped",)
    assert inventory.host("relay").become is False
    imap = inventory.host("imap")
    assert imap.hostnames == ("imap.example.test", "mail.example.test")  # lower-cased, trailing dot dropped
    assert imap.warn_days == 30 and imap.crit_days == 7
    assert imap.known_hosts == "~/.ssh/known_hosts"
    assert set(inventory.groups["mail"]) == {"mx1", "mx02.example.test", "mx03.example.test", "imap"}


def test_become_password_is_masked_everywhere_it_is_kept(tmp_path: Path) -> None:
    imap = load_inventory(write(tmp_path, "hosts.yml", YAML_FLEET)).host("imap")
    assert isinstance(imap.become_password, Secret)
    assert imap.become_password.reveal() == "hunter2"
    assert "hunter2" not in repr(imap)
    assert "hunter2" not in str(imap.become_password)
    assert "hunter2" not in repr(imap.vars)


INI_FLEET = """
# comment
relay ansible_host=192.0.2.10

[mail]
mx1 ansible_host=192.0.2.1 ansible_port=2222 mailcert_roles='postfix,dovecot'
mx2:2200 ansible_become_pass="s3cret word"
web[1:2].example.test

[mail:vars]
ansible_user = ops
ansible_become = true

[prod:children]
mail

[prod:vars]
mailcert_crit_days=3
"""


def test_ini_inventory_sections_vars_children_and_ports(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "hosts.ini", INI_FLEET))
    assert [h.name for h in inventory.hosts] == [
        "relay",
        "mx1",
        "mx2",
        "web1.example.test",
        "web2.example.test",
    ]
    mx1 = inventory.host("mx1")
    assert (mx1.port, mx1.user, mx1.become, mx1.roles, mx1.crit_days) == (
        2222,
        "ops",
        True,
        ("postfix", "dovecot"),
        3,
    )
    mx2 = inventory.host("mx2")
    assert mx2.port == 2200
    assert mx2.become_password is not None and mx2.become_password.reveal() == "s3cret word"
    assert inventory.host("relay").user is None
    assert set(inventory.groups["prod"]) == {"mx1", "mx2", "web1.example.test", "web2.example.test"}


def test_precedence_all_then_groups_by_depth_then_host_then_host_vars(tmp_path: Path) -> None:
    write(
        tmp_path,
        "hosts.yml",
        """
        all:
          vars: {ansible_user: from-all, mailcert_warn_days: 10, mailcert_crit_days: 1, ansible_port: 1001}
          children:
            mail:
              vars: {ansible_user: from-mail, mailcert_acme_email: mail@x}
              children:
                prod:
                  vars: {ansible_user: from-prod-inventory}
                  hosts:
                    mx1: {mailcert_warn_days: 40}
                    mx2:
            zeta:
              vars: {mailcert_acme_email: zeta@x}
              hosts:
                mx2:
        """,
    )
    write(tmp_path, "group_vars/all.yml", "ansible_port: 2002\nmailcert_crit_days: 2\n")
    write(tmp_path, "group_vars/prod/10-user.yml", "ansible_user: from-prod-group-vars\n")
    write(tmp_path, "group_vars/mail.yaml", "mailcert_warn_days: 20\n")
    write(tmp_path, "host_vars/mx1", "mailcert_warn_days: 50\n")
    inventory = load_inventory(tmp_path)
    mx1, mx2 = inventory.host("mx1"), inventory.host("mx2")
    # group_vars/all beats the inventory's all vars
    assert mx1.port == 2002 and mx1.crit_days == 2
    # a child group beats its parent; group_vars files beat inventory group vars
    assert mx1.user == "from-prod-group-vars"
    # host_vars/ beats the host's own inventory vars, which beat every group
    assert mx1.warn_days == 50
    assert mx2.warn_days == 20
    # groups of the same depth apply in name order: zeta comes after mail, so zeta wins
    assert mx2.acme_email == "zeta@x"


def test_inventory_folder_reads_every_inventory_file(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "all:\n  hosts:\n    mx1:\n")
    write(tmp_path, "b.ini", "[imap]\nimap1\n")
    write(tmp_path, "README.md", "# not an inventory: [mail]\n")
    assert [h.name for h in load_inventory(tmp_path).hosts] == ["mx1", "imap1"]


def test_lab_style_inventory_with_null_hosts_under_children(tmp_path: Path) -> None:
    write(
        tmp_path,
        "inventory.yml",
        """
        all:
          vars: {ansible_user: admin, ansible_become: true, ansible_ssh_private_key_file: id_ed25519,
                 mailcert_known_hosts: known_hosts}
          hosts:
            mx1: {ansible_host: 10.77.0.11, mailcert_hostnames: [mx1.mailcert.test]}
          children:
            postfix_dovecot:
              hosts:
                mx1: null
        """,
    )
    mx1 = load_inventory(tmp_path / "inventory.yml").host("mx1")
    # relative paths in the inventory are relative to its folder
    assert mx1.private_key_file == str(tmp_path / "id_ed25519")
    assert mx1.known_hosts == str(tmp_path / "known_hosts")
    assert mx1.groups == ("postfix_dovecot",)


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("hosts.yml", "all:\n  hosts:\n    mx1:\n      ansible_port: [oops\n", 5, "not valid YAML"),
        ("hosts.yml", "all:\n  hosts:\n    mx1:\n      ansible_port: seventy\n", 4, "ansible_port"),
        ("hosts.yml", "all:\n  host:\n    mx1:\n", 2, "unexpected key 'host'"),
        ("hosts.yml", "all:\n  hosts:\n    mx1:\n    mx1:\n", 4, "defined twice"),
        (
            "hosts.yml",
            "all:\n  hosts:\n    mx1:\n      ansible_become_password: !vault |\n        $ANSIBLE\n",
            4,
            "vault",
        ),
        ("hosts.yml", "all:\n  hosts:\n    mx1:\n      ansible_host: '{{ name }}.example'\n", 4, "Jinja2"),
        (
            "hosts.yml",
            "all:\n  hosts:\n    mx1:\n      mailcert_warn_days: 5\n      mailcert_crit_days: 9\n",
            5,
            "crit_days",
        ),
        ("hosts.ini", "[mail]\nmx1 ansible_port=22\nmx2 junk\n", 3, "key=value"),
        ("hosts.ini", "[mail\nmx1\n", 1, "section header"),
        (
            "hosts.ini",
            "[mail]\nmx1 mailcert_hostnames=\"{'smtp':['a'],'web':['b']}\"\n",
            2,
            "unknown service 'web'",
        ),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, name: str, text: str, line: int, words: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = caught.value.line()
    assert f"{path}:{line}" in message
    assert words in message
    assert "\n" not in message


def test_bad_value_in_group_vars_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "hosts.yml", "all:\n  hosts:\n    mx1:\n")
    bad = write(tmp_path, "group_vars/all.yml", "# ports\nansible_port: 70000\n")
    with pytest.raises(InventoryError, match=f"{bad}:2"):
        load_inventory(tmp_path)


def test_secret_error_never_shows_the_secret(tmp_path: Path) -> None:
    path = write(
        tmp_path, "hosts.yml", "all:\n  hosts:\n    mx1:\n      ansible_become_password: [hunter2]\n"
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert "hunter2" not in caught.value.line()


def test_missing_inventory_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="inventory not found"):
        load_inventory(tmp_path / "nope")
    with pytest.raises(InventoryError, match="no inventory file"):
        load_inventory(tmp_path)
    write(tmp_path, "hosts.yml", "all:\n  vars: {a: 1}\n")
    with pytest.raises(InventoryError, match="lists no hosts"):
        load_inventory(tmp_path)


def test_group_loop_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[a:children]\nb\n[b:children]\na\n[a]\nmx1\n")
    with pytest.raises(InventoryError, match="loop"):
        load_inventory(path)


def test_per_service_hostnames(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hosts.yml",
        "all:\n  hosts:\n    mx1:\n      mailcert_hostnames:\n        smtp: [mx1.example.test]\n"
        "        imap: [imap.example.test, mail.example.test]\n",
    )
    mx1 = load_inventory(path).host("mx1")
    assert mx1.hostnames == ()
    assert mx1.names_for("imap") == ("imap.example.test", "mail.example.test")
    assert mx1.names_for("pop3") == ()
