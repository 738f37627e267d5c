"""Where dfx finds an installed Azurite when it is not on PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfx.emulator import azurite


def launcher(folder: Path) -> Path:
    path = folder / "node_modules" / ".bin" / "azurite"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    return path


@pytest.fixture(autouse=True)
def no_azurite_on_path(monkeypatch, tmp_path):
    monkeypatch.setattr(azurite.shutil, "which", lambda name: None)
    monkeypatch.setattr(azurite, "_REPO_ROOT", tmp_path / "dfx-site-packages")
    monkeypatch.setattr(azurite, "USER_INSTALL_DIR", tmp_path / "home" / ".dfx" / "azurite")
    monkeypatch.setattr(azurite.sys, "prefix", str(tmp_path / "python"))


def test_a_checkout_s_azurite_is_found_from_an_app_folder_inside_it(tmp_path, monkeypatch):
    expected = launcher(tmp_path / "checkout")
    app = tmp_path / "checkout" / "samples" / "hello"
    app.mkdir(parents=True)
    monkeypatch.chdir(app)
    assert azurite.find_azurite() == expected.resolve()


def test_a_non_editable_install_into_a_checkout_s_venv_finds_the_checkout_s_azurite(tmp_path, monkeypatch):
    expected = launcher(tmp_path / "checkout")
    venv = tmp_path / "checkout" / ".venv"
    venv.mkdir()
    monkeypatch.setattr(azurite.sys, "prefix", str(venv))
    elsewhere = tmp_path / "apps" / "mine"
    elsewhere.mkdir(parents=True)
    assert azurite.find_azurite(elsewhere) == expected.resolve()


def test_the_nearest_node_modules_wins_and_the_user_install_comes_last(tmp_path):
    user = launcher(tmp_path / "home" / ".dfx" / "azurite")
    app = tmp_path / "apps" / "mine"
    app.mkdir(parents=True)
    assert azurite.find_azurite(app) == user
    nearest = launcher(app)
    launcher(tmp_path / "apps")
    assert azurite.find_azurite(app) == nearest.resolve()


def test_nothing_installed_is_none(tmp_path):
    assert azurite.find_azurite(tmp_path) is None
