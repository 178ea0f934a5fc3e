"""The emulated vendor APIs. A new vendor is a package here and one entry in VENDORS."""

from emulator.vendors import commerce, loyalty

VENDORS = (loyalty.VENDOR, commerce.VENDOR)
