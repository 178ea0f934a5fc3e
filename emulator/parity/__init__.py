"""The parity kit: vendor calls written as cases, recorded against the real vendor, replayed
against the emulator (`profile-emulator parity record|verify|config`, docs/parity.md)."""
