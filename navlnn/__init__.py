"""navlnn: drone vision-navigation with liquid neural circuit policies."""

__version__ = "0.1.0"
