"""Tables of the oversight service, all in its own PostgreSQL schema `oversight`."""

from sqlalchemy.orm import DeclarativeBase

from services.kit.db import make_metadata

metadata, kit_tables = make_metadata("oversight")


class Base(DeclarativeBase):
    metadata = metadata
