"""The splitlab server: HTTP API under /v1, the event collector and the dashboard.

Build one with :func:`splitlab.server.app.create_app` over a
:class:`splitlab.server.context.ServerContext`, or run ``splitlab serve --db PATH``. This
package's ``__init__`` imports nothing, so the lean collector
(``python -m splitlab.server.collector``) starts without loading FastAPI.
"""
