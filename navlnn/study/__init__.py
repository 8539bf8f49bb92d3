"""Studies from a spec (``conf/study/<name>.yaml``): arms x heads x seeds x scenes x tasks.

* :mod:`navlnn.study.spec`: the spec format and its checks (:func:`check_spec`);
* :mod:`navlnn.study.stages`: collect, train, validate, choose, test, analyse, in order, each resumable
  (:func:`run_study`);
* :mod:`navlnn.study.protocol`: the choice written and hashed before any test flight, and the test's gate;
* :mod:`navlnn.study.results`: the tables and RESULTS.md of the analyse stage.

``navlnn study study=<name>`` runs one (docs/study.md).
"""

from navlnn.study.protocol import ProtocolError, choose, require_choice, write_choice
from navlnn.study.spec import STAGES, Spec, SpecError, check_recipes, check_spec
from navlnn.study.stages import Context, run_study

__all__ = ["STAGES", "Context", "ProtocolError", "Spec", "SpecError", "check_recipes", "check_spec", "choose",
           "require_choice", "run_study", "write_choice"]
