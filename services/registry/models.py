"""Tables of the registry service, all in its own PostgreSQL schema `registry`."""

from sqlalchemy.orm import DeclarativeBase

from services.kit.db import make_metadata

metadata, kit_tables = make_metadata("registry")


class Base(DeclarativeBase):
    metadata = metadata
