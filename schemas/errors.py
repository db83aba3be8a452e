"""Exceptions of the ``schemas`` package.

A document that breaks the rules is not an exception: :func:`schemas.validation.validate_prescription`
returns its problems. These are errors of set-up (a policy value or data file the rules cannot use).
"""

from __future__ import annotations


class PolicyError(ValueError):
    """A validation policy value, or the chronic-disease list it names, is unusable.

    The message names the setting (or file and line) and what is wrong with it.
    """
