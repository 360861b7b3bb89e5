"""The stored grant and its lifecycle: the ``GoogleAccount`` model, refresh with
single-flight, grant lifetimes and reconnect reasons, disconnection, pending
revocations, bulk revocation, key rotation and the fleet's health figures.

It uses ``google_connect.google`` and ``google_connect.scopes``, never the web
pages or the operators' tools.
"""
