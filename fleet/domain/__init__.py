"""The domain: plain functions over a database session, returning plain values.

Nothing here reads the request, the signed-in user or a blueprint: the pages, the API, the
CLI and the workbooks call the same functions with what they need as arguments.
"""
