"""Tables of the ranking service, all in its own PostgreSQL schema `ranking`."""

from sqlalchemy.orm import DeclarativeBase

from services.kit.db import make_metadata

metadata, kit_tables = make_metadata("ranking")


class Base(DeclarativeBase):
    metadata = metadata
