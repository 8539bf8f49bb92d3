"""The ``navlnn`` command: ``navlnn <command> key=value ...`` with Hydra overrides.

Each command has a top-level config ``conf/<command>.yaml`` and a function
``run(cfg) -> list[pathlib.Path]`` that returns the paths it wrote; the CLI prints them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Callable

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

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
    "video": ("navlnn.commands.video", "MP4 of closed-loop episodes: onboard view with saliency, chase view, map, traces"),
}


def _usage() -> str:
    lines = ["usage: navlnn <command> [key=value ...]  (Hydra overrides; --help per command)", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def _hydra_entry(command: str, run: Callable) -> Callable[[], None]:
    import hydra
    from omegaconf import DictConfig

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=command)
    def _main(cfg: DictConfig) -> None:
        written = run(cfg) or []
        if written:
            print("wrote:")
            for path in written:
                print(f"  {Path(path).resolve()}")

    return _main


def main(argv: list[str] | None = None) -> None:
    """Dispatch ``navlnn <command>`` to the command's Hydra entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return
    command = argv[0]
    if command not in COMMANDS:
        sys.exit(f"navlnn: unknown command '{command}'. Valid commands: {', '.join(COMMANDS)}.")
    from navlnn.runtime import configure_process

    configure_process()
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"navlnn {command}"] + argv[1:]
    _hydra_entry(command, module.run)()


if __name__ == "__main__":
    main()
