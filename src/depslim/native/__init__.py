"""Native (ELF) dependencies of installed wheels: which OS shared libraries they need at runtime.

Everything here is read statically from bytes: no `ldd`, no loader, nothing from the analysed
image or environment is ever executed.
"""
