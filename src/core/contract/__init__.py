"""Contract reference data: product specs, exchanges, expiries, the registry and discovery."""
