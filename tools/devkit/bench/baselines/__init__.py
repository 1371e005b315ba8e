"""The authorizers ``make bench`` compares ours with, each a plain Lambda handler module.

* :mod:`typical_authorizer`: what a hand-written Python JWT authorizer usually looks like (PyJWT's
  ``PyJWKClient``, Powertools Logger and its authorizer response class, ``requests`` for
  discovery). The cold-start goals are ratios to it.
* :mod:`minimal_verifier`: the floor, ``urllib`` and ``cryptography`` with nothing else (no
  logging, no route rules, no key refresh): what a cold start costs when almost nothing is loaded.

The benchmark copies each module, with the packages it imports, into a directory of its own and
runs it from compiled bytecode in a fresh interpreter; they are never imported by the devkit.
"""
