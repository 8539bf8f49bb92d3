"""One module per ``navlnn`` command; each defines ``run(cfg) -> list[Path]``."""
