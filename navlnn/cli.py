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
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

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


# ---------------------------------------------------------------- scenes of one's own on the search path
# ``navlnn eval ... scene=desert hydra.searchpath=[file://my_conf]`` composes ``my_conf/scene/desert.yaml``
# through Hydra (defaults lists and interpolations work); ``scenes=[summer,desert+fog]`` lists it beside
# packaged scenes. Each such name becomes the scene's mapping, named after its file, which the env flies
# as a scene of one's own (``envs.scene.resolve_scene``). Packaged names stay as they are, and a benchmark
# scene's name is never taken by a file of one's own: the benchmark scenes are frozen.

SCENE_SEPARATOR = "+"  # as in envs.scene, which is imported only where a scene of one's own is read (PyBullet)
PACKAGE_PROVIDERS = ("hydra", "main", "schema")  # the config sources that are not the user's


def own_config_folders(sources: Any) -> list[Path]:
    """The folders of the user's config sources (``hydra.searchpath``: ``file://`` and ``pkg://``), in search order.

    ``sources`` is ``hydra.runtime.config_sources`` (entries with ``provider``, ``schema``, ``path``).
    """
    import importlib.resources

    folders = []
    for source in sources or []:
        if source["provider"] in PACKAGE_PROVIDERS or not source["path"]:
            continue
        if source["schema"] == "file":
            folders.append(Path(source["path"]))
        elif source["schema"] == "pkg":
            module, _, sub = str(source["path"]).partition("/")
            try:
                folders.append(Path(str(importlib.resources.files(module))) / sub)
            except (ModuleNotFoundError, TypeError):
                continue  # Hydra has already warned that this source is not available
    return folders


def own_scene_file(name: str, folders: list[Path]) -> Optional[Path]:
    """The first ``scene/<name>.yaml`` in ``folders``, or None."""
    return next((f / "scene" / f"{name}.yaml" for f in folders if (f / "scene" / f"{name}.yaml").is_file()), None)


def packaged_scene_names() -> list[str]:
    """The packaged (benchmark) scene names."""
    from envs.config import available

    return available("scene")


def own_scene_names(folders: list[Path]) -> list[str]:
    """Names of the scenes of one's own in ``folders`` (packaged names left out)."""
    names = {p.stem for f in folders for p in (f / "scene").glob("*.yaml")}
    return sorted(names - set(packaged_scene_names()))


def refuse_shadowing(name: str, folders: list[Path]) -> None:
    """Stop when a user folder holds a changed ``scene/<benchmark>.yaml``: Hydra would fly the packaged one."""
    import yaml

    from envs.config import load

    path = own_scene_file(name, folders)
    if path is None:
        return
    mine = yaml.safe_load(path.read_text()) or {}
    if isinstance(mine, dict):
        mine.setdefault("name", name)
    if mine != load("scene", name):
        raise ValueError(f"{path}: '{name}' is a benchmark scene, which stays as packaged (the package's config comes "
                         f"first, so yours would be ignored); give your scene a name of its own, e.g. "
                         f"{path.with_name('my_' + name + '.yaml')} with name: my_{name}")


def _named_after_file(name: str, scene: dict, path: Optional[Path]) -> dict:
    """``scene`` with its name set to ``name`` (the file's); a different ``name:`` inside is refused."""
    given = scene.get("name")
    if given is not None and given != name:
        where = path if path is not None else f"scene={name}"
        raise ValueError(f"{where}: says name: {given}, but a scene of your own is named after its file; "
                         f"set name: {name} (or remove the line)")
    return {**scene, "name": name}


def compose_own_scene(name: str, searchpath: list[str], folders: list[Path]) -> dict:
    """The scene ``name`` (with ``+`` modifiers) from the user's folders, composed by Hydra, as a plain mapping."""
    from hydra import compose
    from omegaconf import OmegaConf

    from envs.scene import modifier_names
    from envs.scene import scene_names as ordered_scene_names

    base, *mods = [s.strip() for s in name.split(SCENE_SEPARATOR) if s.strip()]
    path = own_scene_file(base, folders)
    if path is None:
        raise ValueError(f"unknown scene '{base}'. Valid scenes: {', '.join(ordered_scene_names())}; of your own "
                         f"(scene/*.yaml on hydra.searchpath): {', '.join(own_scene_names(folders)) or 'none'}; "
                         f"modifiers (joined with '+', e.g. 'winter+fog'): {', '.join(modifier_names())}.")
    overrides = [f"+scene={base}", f"hydra.searchpath=[{','.join(json.dumps(s) for s in searchpath)}]"]
    scene = OmegaConf.to_container(compose(overrides=overrides).scene, resolve=True)
    scene = _named_after_file(base, dict(scene), path)
    return {**scene, "modifiers": [*(scene.get("modifiers") or []), *mods]} if mods else scene


def _resolve_entry(entry: Any, searchpath: list[str], folders: list[Path]) -> Any:
    """One entry of ``scenes``: a packaged name as it is, a name of one's own or a YAML path as its mapping."""
    if not isinstance(entry, str):
        return entry
    if entry.lower().endswith((".yaml", ".yml")) or Path(entry).is_file():
        from envs.scene import is_scene_file, load_scene_file

        if is_scene_file(entry):
            return load_scene_file(entry)
    base = entry.split(SCENE_SEPARATOR)[0].strip()
    if base in packaged_scene_names():
        refuse_shadowing(base, folders)
        return entry
    return compose_own_scene(entry, searchpath, folders) if folders else entry


def resolve_own_scenes(cfg: Any) -> None:
    """Turn the scenes of one's own in ``cfg.scene`` and ``cfg.scenes`` (a command's ``DictConfig``) into
    mappings the env flies, in place.

    Without folders of one's own on the search path, names pass through unchanged (the env names the
    valid ones when a name is unknown).
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

    hydra_cfg = HydraConfig.get()
    folders = own_config_folders(OmegaConf.to_container(hydra_cfg.runtime.config_sources))
    searchpath = [str(s) for s in hydra_cfg.searchpath]
    choice = hydra_cfg.runtime.choices.get("scene")
    scene = cfg.get("scene")
    if isinstance(scene, DictConfig) and choice:
        if choice in packaged_scene_names():
            refuse_shadowing(choice, folders)
        else:
            named = _named_after_file(choice, OmegaConf.to_container(scene, resolve=True), own_scene_file(choice, folders))
            with open_dict(cfg):
                cfg.scene = named
    scenes = cfg.get("scenes")
    if isinstance(scenes, (ListConfig, str)):
        entries = [scenes] if isinstance(scenes, str) else OmegaConf.to_container(scenes, resolve=True)
        resolved = [_resolve_entry(e, searchpath, folders) for e in entries]
        if resolved != entries:
            with open_dict(cfg):
                cfg.scenes = resolved


if __name__ == "__main__":
    main()
