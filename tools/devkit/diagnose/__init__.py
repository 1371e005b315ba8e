"""Diagnoses for operators: ``explain`` a token's verdict, ``check`` a configuration before
deploying it, ``discover`` an identity provider's settings.

Every verdict comes from the function's own code (``jwt_authorizer``): the configuration is
loaded by its loader from the environment the template would deploy (:mod:`.source`), tokens go
through its stages and handler (:mod:`.explain`, :mod:`.request`), key sets through its key
cache and transport (:mod:`.keysets`). This package adds only the reporting: which values were
compared, what usually causes a near miss (:mod:`.hints`), and what to change.
"""

from __future__ import annotations

import sys

from devkit.paths import AUTHORIZER_SRC

# The function's code is imported from the repository (the function root, where Lambda would
# import it from), whatever PYTHONPATH says: `PYTHONPATH=tools python -m devkit` works.
if str(AUTHORIZER_SRC) not in sys.path:
    sys.path.append(str(AUTHORIZER_SRC))
