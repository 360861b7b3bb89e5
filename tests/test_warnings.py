"""Deprecations fail the suite, Django's own included, on every Django in the matrix."""

import warnings

import pytest
from django.utils.deprecation import RemovedAfterNextVersionWarning, RemovedInNextVersionWarning


@pytest.mark.parametrize(
    "category",
    [
        DeprecationWarning,
        PendingDeprecationWarning,
        # Aliases for RemovedInDjangoXXWarning of the next two Django versions,
        # whatever the installed Django is.
        RemovedInNextVersionWarning,
        RemovedAfterNextVersionWarning,
    ],
)
def test_deprecation_warnings_are_errors(category):
    with pytest.raises(category):
        warnings.warn("scheduled for removal", category, stacklevel=1)
