"""The route table, one module per resource: its endpoints (parse the request, call the service, shape the
response) and its Operation entries. rest_contract/operations.py assembles them in the documented order."""
