"""Connect the users of a Django site to their Google accounts."""

__version__ = "0.1.0"
