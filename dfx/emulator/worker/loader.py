"""Import the user's app script and index its functions, as the Python worker does (host-protocol §1.1)."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from dfx.emulator.worker.errors import AppLoadError, FunctionLoadError
from dfx.emulator.worker.functions import FunctionIndex, index_function


def user_traceback(exc: BaseException, app_dir: Path) -> str:
    """The traceback of ``exc`` cut to the frames in the user's app, ending with the exception line."""
    tb: TracebackType | None = exc.__traceback__
    frames = traceback.extract_tb(tb)
    root = str(app_dir)
    keep = [f for f in frames if f.filename.startswith(root) and "site-packages" not in f.filename]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(keep or frames[-1:])]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def _import_script(app_dir: Path, script_file: str) -> ModuleType:
    script = app_dir / script_file
    if not script.is_file():
        raise AppLoadError(
            f"{script} not found.",
            hint="Run dfx start in a function app folder, or create one with: dfx init",
        )
    module_name = script.stem
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    os.chdir(app_dir)
    sys.modules.pop(module_name, None)
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module_name)
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else script_file
        raise AppLoadError(
            f"{where}: {exc.msg}", details=user_traceback(exc, app_dir), hint="Fix the file; dfx reloads on save."
        ) from exc
    except Exception as exc:
        frame = next(
            (f for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename.startswith(str(app_dir))),
            None,
        )
        where = f"{frame.filename}:{frame.lineno}: " if frame else ""
        raise AppLoadError(
            f"{where}{type(exc).__name__}: {exc}", details=user_traceback(exc, app_dir), hint="Fix the error above."
        ) from exc


def find_app(module: ModuleType, script_file: str) -> Any:
    """The one ``FunctionRegister`` (``func.FunctionApp``, ``df.DFApp``, …) defined at the module's top level."""
    from azure.functions import FunctionRegister

    apps = [getattr(module, name) for name in module.__dir__() if isinstance(getattr(module, name), FunctionRegister)]
    if len(apps) > 1:
        raise AppLoadError(
            f"More than one {type(apps[0]).__name__} or other top level function app instances are defined.",
            hint="Keep one app and register blueprints on it with app.register_functions(bp).",
        )
    if not apps:
        raise AppLoadError(
            f"Could not find top level function app instances in {script_file}.",
            hint="Define app = func.FunctionApp() (or df.DFApp()) at the top level of the script.",
        )
    return apps[0]


def load_functions(app_dir: Path, script_file: str = "function_app.py", only: tuple[str, ...] = ()) -> FunctionIndex:
    """Import ``script_file`` from ``app_dir``, call ``get_functions()`` once and check every function.

    ``only`` limits the table to those function names (``--functions``); an unknown name is an error.
    """
    module = _import_script(app_dir, script_file)
    app = find_app(module, script_file)
    try:
        sdk_functions = app.get_functions()
    except ValueError as exc:
        raise AppLoadError(str(exc), details=user_traceback(exc, app_dir)) from exc
    indexed = []
    for sdk_function in sdk_functions:
        try:
            indexed.append(index_function(sdk_function))
        except FunctionLoadError:
            raise
        except Exception as exc:
            name = sdk_function.get_function_name()
            raise FunctionLoadError(name, f"{type(exc).__name__}: {exc}") from exc
    if only:
        known = {f.name.lower(): f for f in indexed}
        unknown = [name for name in only if name.lower() not in known]
        if unknown:
            raise AppLoadError(
                f"--functions names {', '.join(repr(n) for n in unknown)}, which the app does not define.",
                hint=f"Known functions: {', '.join(sorted(f.name for f in indexed)) or 'none'}.",
            )
        indexed = [known[name.lower()] for name in only]
    return FunctionIndex(tuple(indexed))
