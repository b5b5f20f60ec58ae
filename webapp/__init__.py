"""The Gradio web app: UI tabs, named API endpoints and plain HTTP routes.

Layout: ``labels`` (every UI word in vi/ja/en), ``localizer`` (switching
language), ``render`` (safe HTML/Markdown from document text), one module per
tab (``chat``, ``documents``, ``briefing``, ``about``), ``api`` (gradio_client
endpoints), ``routes`` (``/healthz``, ``/files/{doc_id}``), ``uploads`` (the
write side: uploads, deletions, re-indexing through ``ingest``), ``style``
and ``server`` (FastAPI + uvicorn). The app calls ``kb`` to read and
``ingest`` to write; ``kb`` never imports it.
"""
