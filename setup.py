"""The C extensions only: everything else about the package is in pyproject.toml (setuptools'
pyproject.toml form for extensions is still experimental).

Three accelerators, each optional: where one cannot be built, the install goes on and shipper does
that work in Python, slower (each module's Python code is the specification; tests compare both).

* `shipper.sources._journalread` reads journal entries about twice as fast as systemd-python's
  Python calls. Building it needs gcc, libsystemd-dev and the Python headers;
  `shipper.sources.journal_entries.native_reader()` tells whether it is there.
* `shipper.parse._journaldoc` builds the documents of journal entries about three times as fast as
  `journal_doc`. It needs gcc and the Python headers; `shipper.parse.journal_fields.NATIVE` tells.
* `shipper.parallel._express` takes the common lines of a syslog replay from text to bulk items
  (or NDJSON lines) in one pass, about three times as fast as the Python stages, does the same
  for journal entries packed by `_journalread`, and does the stages after parsing for other
  documents. It needs gcc and the Python
  headers; `shipper.parallel.express.NATIVE` tells.

scripts/bootstrap installs what they need.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "shipper.sources._journalread",
            sources=["shipper/sources/_journalread.c"],
            depends=["shipper/_cbytes.h", "shipper/sources/_journalhash.h", "shipper/sources/_journalpack.h"],
            libraries=["systemd"],
            optional=True,
        ),
        Extension(
            "shipper.parse._journaldoc",
            sources=["shipper/parse/_journaldoc.c"],
            depends=["shipper/sources/_journalpack.h"],
            optional=True,
        ),
        Extension(
            "shipper.parallel._express",
            sources=[
                f"shipper/parallel/_express{part}.c"
                for part in ("", "_codec", "_lines", "_docs", "_starts", "_journal", "_journal_claims", "_journal_doc")
            ],
            depends=[
                "shipper/_cbytes.h",
                "shipper/parallel/_express.h",
                "shipper/parallel/_express_journal.h",
                "shipper/parallel/_express_journal_claims.h",
                "shipper/sources/_journalpack.h",
            ],
            optional=True,
        ),
    ]
)
