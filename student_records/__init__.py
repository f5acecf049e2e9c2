"""Student records domain: models, use cases and the data layer, shared by both front doors."""
