"""breachline: find data leaks and privilege abuse in e-commerce stores within the 72-hour clock."""

__version__ = "0.1.0"
