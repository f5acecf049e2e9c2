"""Observability for both front doors and the data layer: structured logs, EMF metrics and X-Ray traces.

The only package that configures logging, metrics or tracing; everything else imports from here.
"""
