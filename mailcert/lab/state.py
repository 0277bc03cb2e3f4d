"""The lab's state file (DIR/state.json): every resource is recorded before it is created.

`lab down` undoes exactly what is recorded, so a crashed or half-finished `lab up` can always be
removed. A machine-wide copy (/run/mailcert-lab.json) says which DIR owns the lab's address range, and
keeps the state when DIR itself is gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.procs import RecordedProcess

STATE_NAME = "state.json"
POINTER = Path("/run/mailcert-lab.json")


@dataclass
class HostState:
    """One lab host: its namespace, veth, address and the processes started in it."""

    name: str
    kind: str
    address: str
    netns: str
    veth: str
    faults: list[str] = field(default_factory=list)
    anchor: RecordedProcess | None = None
    processes: list[RecordedProcess] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "address": self.address,
            "netns": self.netns,
            "veth": self.veth,
            "faults": list(self.faults),
            "anchor": self.anchor.to_json() if self.anchor else None,
            "processes": [p.to_json() for p in self.processes],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> HostState:
        anchor = data.get("anchor")
        processes = data.get("processes")
        faults = data.get("faults")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            address=str(data["address"]),
            netns=str(data["netns"]),
            veth=str(data["veth"]),
            faults=[str(f) for f in faults] if isinstance(faults, list) else [],
            anchor=RecordedProcess.from_json(anchor) if isinstance(anchor, dict) else None,
            processes=[RecordedProcess.from_json(p) for p in processes]
            if isinstance(processes, list)
            else [],
        )


@dataclass
class LabState:
    """What `lab up` created under DIR and on the machine."""

    dir: Path
    bridge: str | None = None
    phase: str = "starting"
    hosts: dict[str, HostState] = field(default_factory=dict)
    acme: list[RecordedProcess] = field(default_factory=list)
    # Mount points the machine lacked (e.g. /etc/letsencrypt before certbot ever ran): made empty, removed at down.
    made_mountpoints: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.dir / STATE_NAME

    def save(self) -> None:
        data = {
            "schema": "mailcert-lab/1",
            "dir": str(self.dir),
            "bridge": self.bridge,
            "phase": self.phase,
            "hosts": [h.to_json() for h in self.hosts.values()],
            "acme": [p.to_json() for p in self.acme],
            "made_mountpoints": list(self.made_mountpoints),
        }
        text = json.dumps(data, indent=2) + "\n"
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.path)
        # A copy outside DIR: `lab down` still works when DIR was deleted (a cleaned-up temp folder).
        mirror = POINTER.with_suffix(".tmp")
        mirror.write_text(text)
        mirror.replace(POINTER)

    @classmethod
    def load(cls, lab_dir: Path) -> LabState | None:
        """The state of the lab under lab_dir (from DIR/state.json, or its machine-wide copy)."""
        path = lab_dir / STATE_NAME
        if not path.exists():
            if pointer_dir() != lab_dir:
                return None
            path = POINTER
        try:
            data = json.loads(path.read_text())
            hosts = [HostState.from_json(h) for h in data.get("hosts", [])]
            return cls(
                dir=lab_dir,
                bridge=data.get("bridge"),
                phase=str(data.get("phase", "starting")),
                hosts={h.name: h for h in hosts},
                acme=[RecordedProcess.from_json(p) for p in data.get("acme", [])],
                made_mountpoints=[str(p) for p in data.get("made_mountpoints", [])],
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LabError(
                f"the lab state file is unreadable: {exc}",
                where=str(path),
                todo="remove the namespaces named mailcert-* with `ip netns del` and the file by hand",
            ) from exc


def pointer_dir() -> Path | None:
    """The DIR of the lab that owns the machine's lab range, if any."""
    try:
        return Path(json.loads(POINTER.read_text())["dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def release_pointer(lab_dir: Path) -> None:
    if pointer_dir() == lab_dir:
        POINTER.unlink(missing_ok=True)
