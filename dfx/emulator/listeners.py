"""Which program listens on a local TCP port, from Linux's /proc — to name it in messages, best effort.

Only this machine's processes that the user may look into are found (not another user's, nor one behind a
container's port proxy); elsewhere, or without /proc, nothing is found and messages say less.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"
INTERPRETERS = ("node", "python", "java", "dotnet", "ruby", "perl", "sh", "bash")
PORT_PROXIES = ("docker", "podman", "rootlessport", "slirp4netns", "containerd", "kubectl", "ssh")
"""Programs that forward a port to something else, which may be an Azurite (in a container, over ssh)."""


@dataclass(frozen=True)
class PortOwner:
    """A process that listens on a port: its pid and command line."""

    pid: int
    args: tuple[str, ...]

    @property
    def is_azurite(self) -> bool:
        return any("azurite" in arg.lower() for arg in self.args[:3])

    @property
    def may_forward(self) -> bool:
        """A port proxy, which may stand for an Azurite elsewhere."""
        program = Path(self.args[0]).name.lower() if self.args else ""
        return any(name in program for name in PORT_PROXIES)

    def describe(self) -> str:
        """``python (pid 12)``, ``node azurite (pid 34)``: the program, and the script an interpreter runs."""
        if not self.args:
            return f"pid {self.pid}"
        program = Path(self.args[0]).name
        if program.rstrip("0123456789.").lower() in INTERPRETERS:
            script = next((arg for arg in self.args[1:] if not arg.startswith("-")), None)
            if script:
                program += " " + Path(script).name
        return f"{program} (pid {self.pid})"

    def azurite_data(self) -> str | None:
        """Where this Azurite keeps its data: a folder, ``"memory"``, or None when it cannot be known."""
        args = list(self.args)
        if "--inMemoryPersistence" in args:
            return "memory"
        location = None
        for i, arg in enumerate(args):
            if arg in ("--location", "-l") and i + 1 < len(args):
                location = args[i + 1]
            elif arg.startswith("--location="):
                location = arg.split("=", 1)[1]
        try:  # Azurite's default data folder is the folder it was started in
            cwd = os.readlink(PROC / str(self.pid) / "cwd")
        except OSError:
            return location if location and os.path.isabs(location) else None
        return os.path.normpath(os.path.join(cwd, location or "."))


def listening_inodes(port: int) -> set[str]:
    """The socket inodes listening on TCP ``port`` (any address, IPv4 or IPv6)."""
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (PROC / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _processes() -> Iterator[tuple[int, tuple[str, ...]]]:
    try:
        entries = [entry for entry in os.listdir(PROC) if entry.isdigit()]
    except OSError:
        return
    for entry in entries:
        try:
            raw = (PROC / entry / "cmdline").read_bytes()
        except OSError:
            continue
        yield int(entry), tuple(arg.decode(errors="replace") for arg in raw.split(b"\0") if arg)


def _holds(pid: int, targets: set[str]) -> bool:
    try:
        fds = os.listdir(PROC / str(pid) / "fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(PROC / str(pid) / "fd" / fd) in targets:
                return True
        except OSError:
            continue
    return False


def port_owner(port: int, *, azurite_only: bool = False) -> PortOwner | None:
    """The process listening on ``port``, if it can be found; Azurite processes are looked at first.

    ``azurite_only`` looks at nothing else (cheap: a command line read per process, open files of a few).
    """
    inodes = listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    processes = sorted(_processes(), key=lambda p: not PortOwner(*p).is_azurite)
    for pid, args in processes:
        owner = PortOwner(pid, args)
        if azurite_only and not owner.is_azurite:
            break
        if _holds(pid, targets):
            return owner
    return None
