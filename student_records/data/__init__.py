"""The data layer: the only code that holds SQL or talks to the PostgreSQL driver."""
