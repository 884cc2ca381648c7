"""The C extension only: everything else about the package is in pyproject.toml (setuptools'
pyproject.toml form for extensions is still experimental).

`shipper.sources._journalread` reads journal entries about twice as fast as systemd-python's
Python calls (see its source). Building it needs gcc, libsystemd-dev and the Python headers
(scripts/bootstrap installs them). It is optional: where it cannot be built, the install goes on and
shipper reads the journal in Python, slower (`shipper.sources.journal_entries.native_reader()` tells which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "shipper.sources._journalread",
            sources=["shipper/sources/_journalread.c"],
            libraries=["systemd"],
            optional=True,
        )
    ]
)
