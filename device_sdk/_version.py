"""The version of device_sdk (one place, imported by the package and by the parts that announce it)."""

__version__ = "0.1.0"
