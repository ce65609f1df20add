"""Scoring drivers that run inside a deployment's own environment Python (stdlib only).

The workspace copies this package's ``*.py`` files into a cache folder as a top-level package
named ``forgeml_scoring`` (see ``forgeml.serving.hostpkg``), puts that folder on ``PYTHONPATH``
and runs ``python -m forgeml_scoring.online`` (the online scoring host) or
``python -m forgeml_scoring.batch`` with the deployment environment's interpreter: a virtualenv
holding the user's packages (scikit-learn, mlflow, pandas...) but not forgeml, fastapi or
pydantic. So modules here import only the standard library and each other, relatively
(``from . import scoring``); third-party libraries (mlflow, pandas, numpy) are imported lazily,
inside the functions that serve MLflow no-code models. Inside forgeml's own virtualenv the same
files import as ``forgeml.serving.envside``, for type checking and tests. Deployment environments
may pin an older Python, so the code here also runs on Python 3.8: no ``X | Y`` outside
annotations, no ``zip(strict=...)``, no ``match``.
"""
