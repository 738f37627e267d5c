"""Naming what listens on a port (``dfx.emulator.listeners``): the process, and where an Azurite keeps its data."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from dfx.emulator.listeners import PortOwner, port_owner

linux = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc")


@linux
def test_the_process_listening_on_a_port_is_found():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        owner = port_owner(port)
        assert owner is not None and owner.pid == os.getpid() and not owner.is_azurite
        assert port_owner(port, azurite_only=True) is None
    assert port_owner(port) is None, "nothing listens there any more"


def test_a_program_is_named_with_the_script_an_interpreter_runs():
    assert PortOwner(7, ("/usr/bin/node", "/app/node_modules/.bin/azurite", "--blobPort", "1")).describe() == (
        "node azurite (pid 7)"
    )
    assert PortOwner(8, ("/usr/bin/python3.11", "-m", "http.server")).describe() == "python3.11 http.server (pid 8)"
    assert PortOwner(9, ("/usr/sbin/nginx", "-g", "daemon off;")).describe() == "nginx (pid 9)"
    assert PortOwner(10, ()).describe() == "pid 10"
    assert PortOwner(11, ("/usr/bin/docker-proxy", "-proto", "tcp")).may_forward


@linux
def test_an_azurites_data_folder_comes_from_its_arguments_or_the_folder_it_runs_in():
    me = os.getpid()
    cwd = os.getcwd()
    azurite = (sys.executable, "/x/node_modules/.bin/azurite")
    assert PortOwner(me, (*azurite, "--location", "data")).azurite_data() == os.path.join(cwd, "data")
    assert PortOwner(me, (*azurite, "-l", "/srv/azurite")).azurite_data() == "/srv/azurite"
    assert PortOwner(me, (*azurite, "--location=/srv/a")).azurite_data() == "/srv/a"
    assert PortOwner(me, (*azurite, "--inMemoryPersistence")).azurite_data() == "memory"
    assert PortOwner(me, azurite).azurite_data() == cwd
    gone = PortOwner(2**22 + 7, (*azurite, "--location", "relative"))
    assert gone.azurite_data() is None, "a relative folder of a process whose folder is unknown is unknown"
