"""The REST contract both front doors serve: operations, request parsing, responses and problem documents.

Framework-neutral on purpose: the Lambda handlers and the Flask app only translate their
framework's request into an ApiRequest and an ApiResponse back, so the two doors cannot drift.
"""
