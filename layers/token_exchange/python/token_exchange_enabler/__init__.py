"""token-exchange-enabler: make every new Auth0 API ready for token exchange."""

__version__ = "0.1.0"
