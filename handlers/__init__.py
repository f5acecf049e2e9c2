"""Lambda entry points (Powertools Event Handler behind API Gateway REST)."""
