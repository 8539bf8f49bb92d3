"""Statistics of studies: rates and differences with intervals over training seeds and layouts.

A study flies several training seeds of each arm (head, recipe) on the same layouts, so a rate
varies with the seeds drawn as much as with the layouts. Every interval here accounts for both
(``docs/analysis.md`` says how, and measures it on simulated studies):

* :func:`rates`: success (or collision) rate per arm and condition;
* :func:`differences`: arm minus arm, paired by the seed they share and by layout; before/after too;
* :func:`resolvable_differences`: the smallest difference the study resolves, per condition;
* :func:`per_seed`, :func:`attention`: tidy tables; :func:`write_tables`: CSV and markdown files.

The input is a flights table (pandas, one row per flight: ``head``, ``seed``, ``layout``,
``scene``, ``success``); :func:`from_episodes` makes one from ``navlnn eval``'s ``episodes.csv``.
"""

from navlnn.analysis.compare import differences
from navlnn.analysis.flights import check_flights, from_episodes
from navlnn.analysis.intervals import (crossed_spread, crossed_t_interval, newcombe_interval, t_interval,
                                       wilson_interval)
from navlnn.analysis.rates import attention, per_seed, rates
from navlnn.analysis.resolution import resolvable_differences
from navlnn.analysis.tables import markdown, write_tables

__all__ = ["attention", "check_flights", "crossed_spread", "crossed_t_interval", "differences", "from_episodes",
           "markdown", "newcombe_interval", "per_seed", "rates", "resolvable_differences", "t_interval",
           "wilson_interval", "write_tables"]
