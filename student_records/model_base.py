"""The base of every API model."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Validators and serializers are built at a model's first use, not at import: a Lambda cold start then
    builds only the models its first request needs (pydantic builds under a lock, so threads may race to it)."""

    model_config = ConfigDict(defer_build=True)
