"""The ``navlnn`` command: ``navlnn <command> key=value ...`` with Hydra overrides.

Each command has a top-level config ``conf/<command>.yaml`` and a function
``run(cfg) -> list[pathlib.Path]`` that returns the paths it wrote; the CLI prints them.

The config tree ships inside the package (``pkg://envs.conf``), so the command works from any
folder and from a wheel; ``hydra.searchpath=[file:///my/conf]`` adds config folders of one's own
(a scene of one's own there, ``scene/<name>.yaml``, is flown by ``scene=<name>`` or in ``scenes=[...]``).

Expected errors (a bad config value, a missing, corrupt or foreign file, a camera or action space
that does not fit) end the command with one line on stderr and exit code 1. A traceback appears
for a genuine bug, or for every error with ``HYDRA_FULL_ERROR=1``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Callable, Optional

CONFIG_PATH = "pkg://envs.conf"
# the project's own code: an error it raises on purpose carries a message meant for the user
PROJECT_MODULES = ("navlnn", "envs")
EXPECTED_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, ChildProcessError,
                   ModuleNotFoundError)

# command -> (module, help). Each module defines run(cfg) -> list[Path].
COMMANDS: dict[str, tuple[str, str]] = {
    "pipeline": ("navlnn.commands.pipeline", "the main job: collect -> train -> eval -> video on a small default"),
    "wiring": ("navlnn.commands.wiring", "draw an NCP wiring diagram to a PNG"),
    "scenes": ("navlnn.commands.scenes", "write the PNG gallery of scenes"),
    "collect": ("navlnn.commands.collect", "fly the privileged expert and record (or resume) a dataset"),
    "show-data": ("navlnn.commands.show_data", "draw demonstrations (labels on frames) and action histograms"),
    "train": ("navlnn.commands.train", "behaviour cloning of a policy on a dataset (resumes an interrupted run)"),
    "dagger": ("navlnn.commands.dagger", "DAgger rounds: fly the policy, label with the expert, retrain"),
    "export": ("navlnn.commands.export", "a trained policy's closed-loop step to ONNX, checked and timed"),
    "eval": ("navlnn.commands.eval", "closed-loop evaluation: checkpoint(s) x scenes x tasks x seeds -> tables, charts"),
    "eval-merge": ("navlnn.commands.eval_merge", "pool the shard folders of `navlnn eval ... shard=i/n` into one report"),
    "video": ("navlnn.commands.video", "MP4 of closed-loop episodes: onboard view with saliency, chase view, map, traces"),
    "study": ("navlnn.commands.study", "a study from its spec (conf/study/): collect, train, validate, choose, test, analyse"),
}


def _usage() -> str:
    lines = ["usage: navlnn <command> [key=value ...]  (Hydra overrides; --help per command)", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def _hydra_entry(command: str, run: Callable, full_traceback: bool) -> Callable[[], None]:
    import hydra
    from omegaconf import DictConfig

    @hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name=command)
    def _main(cfg: DictConfig) -> None:
        try:
            from navlnn.commands.own_scenes import resolve_own_scenes

            resolve_own_scenes(cfg)  # scene names of one's own, found on hydra.searchpath
            written = run(cfg) or []
        except Exception as exc:  # noqa: BLE001 - sorted into expected (one line) and bugs (traceback)
            _exit_if_expected(command, exc, full_traceback)
            raise
        if written:
            print("wrote:")
            for path in written:
                print(f"  {Path(path).resolve()}")

    return _main


def expected_error(exc: BaseException) -> Optional[str]:
    """The one-line message of an expected error, or None for a genuine bug (which gets its traceback).

    Expected: Hydra's and OmegaConf's config errors (unknown group option, bad override, missing or
    mistyped key) and the errors the project's own code raises on purpose (a ``ValueError`` or
    missing-file error whose innermost frame is in ``navlnn`` or ``envs``).
    """
    from hydra.errors import HydraException, InstantiationException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        target = str(exc).split("'")[1] if str(exc).count("'") >= 2 else "a _target_"
        return _one_line(f"{target}: {exc.__cause__}")
    if isinstance(exc, MissingConfigException):
        return _one_line(str(exc).split("Config search path:")[0])
    if isinstance(exc, (HydraException, OmegaConfBaseException)):
        message = _without_key_details(str(exc))
        cause = exc.__cause__
        if isinstance(cause, OmegaConfBaseException) and _without_key_details(str(cause)) not in message:
            message += f" ({_one_line(_without_key_details(str(cause)))})"
        return _one_line(message)
    if isinstance(exc, EXPECTED_ERRORS) and _raised_by_project(exc):
        return _one_line(str(exc) or type(exc).__name__)
    return None


def _raised_by_project(exc: BaseException) -> bool:
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    if module == "__main__":  # python -m navlnn.cli: the module's own name is in its spec
        module = str(getattr(tb.tb_frame.f_globals.get("__spec__"), "name", module))
    return module.split(".")[0] in PROJECT_MODULES


def _without_key_details(message: str) -> str:
    """OmegaConf's message without its trailing ``full_key: ... object_type=...`` lines."""
    return message.split("\n    full_key:")[0].split("\nfull_key:")[0].strip()


def _one_line(message: str) -> str:
    """Lines joined into one; the items under a line that ends with ':' become a comma-separated list."""
    out: list[str] = []
    listing = False
    for raw in message.strip().splitlines():
        line = raw.strip()
        if not line:
            continue
        if listing and raw[:1] in ("\t", " "):
            out[-1] += (" " if out[-1].endswith(":") else ", ") + line
            continue
        listing = line.endswith(":")
        out.append(line)
    return " ".join(line if line.endswith((".", ";")) or i == len(out) - 1 else line + ";"
                    for i, line in enumerate(out))


def _exit_if_expected(command: str, exc: Exception, full_traceback: bool) -> None:
    message = None if full_traceback else expected_error(exc)
    if message is not None:
        print(f"navlnn {command}: {message}", file=sys.stderr, flush=True)
        sys.exit(1)


def _propagate_errors() -> None:
    """Let config errors reach :func:`main` instead of Hydra's reporter (which adds a second line)."""
    import hydra._internal.utils as hydra_utils

    hydra_utils.run_and_report = lambda func: func()


def main(argv: list[str] | None = None) -> None:
    """Dispatch ``navlnn <command>`` to the command's Hydra entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return
    command = argv[0]
    if command not in COMMANDS:
        sys.exit(f"navlnn: unknown command '{command}'. Valid commands: {', '.join(COMMANDS)}.")
    from navlnn.reproducibility import deterministic_requested, pin_environment

    if deterministic_requested(argv[1:]):
        pin_environment()   # before torch starts: its kernels are chosen on first use
    from navlnn.runtime import configure_process

    configure_process()
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"navlnn {command}"] + argv[1:]
    full_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    if not full_traceback:
        _propagate_errors()
    try:
        _hydra_entry(command, module.run, full_traceback)()
    except Exception as exc:  # noqa: BLE001 - config errors before the job starts
        _exit_if_expected(command, exc, full_traceback)
        raise


if __name__ == "__main__":
    main()
