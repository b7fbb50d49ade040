"""Configuration from an INI file only the app user can read (path in FOOBAR_APP_CONFIG)."""

import configparser
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PATH = "/etc/foobar-app/app.ini"


@dataclass(frozen=True)
class Config:
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    db_name: str
    db_socket: str
    secret_key: bytes
    max_body_bytes: int
    page_size: int


def parse_dsn(dsn):
    """mysql://user:password@host:port/dbname or mysql://user:password@/dbname?socket=/path."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ValueError("database DSN must start with mysql://")
    query = dict(item.split("=", 1) for item in parts.query.split("&") if "=" in item)
    return {
        "db_host": parts.hostname or "127.0.0.1",
        "db_port": parts.port or 3306,
        "db_user": unquote(parts.username or ""),
        "db_password": unquote(parts.password or ""),
        "db_name": parts.path.lstrip("/"),
        "db_socket": query.get("socket", ""),
    }


def load(path=None):
    path = path or os.environ.get("FOOBAR_APP_CONFIG", DEFAULT_PATH)
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        raise RuntimeError(f"cannot read app config {path}")
    section = parser["app"]
    return Config(
        **parse_dsn(section["database_dsn"]),
        secret_key=section["secret_key"].encode(),
        max_body_bytes=section.getint("max_body_bytes", 16384),
        page_size=section.getint("page_size", 50),
    )
