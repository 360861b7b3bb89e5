"""The JSON API for single-page and mobile apps (``api/v1/...``).

JSON in and out for every outcome, errors included, with the error pages'
reason codes; described by an OpenAPI 3.1 document (``schema.py``). Who is
asking is decided by the ``API_AUTHENTICATION`` callables
(``authentication.py``).
"""
