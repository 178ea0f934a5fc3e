"""profile-emulator: a contract-first emulator of vendor customer-profile APIs."""

__version__ = "0.1.0"
