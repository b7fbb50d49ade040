"""Database access: one short connection per request, parameterised SQL only."""

import ipaddress

import pymysql


def is_local(config):
    """True for the unix socket and loopback addresses: there TLS protects nothing."""
    if config.db_socket or config.db_host == "localhost":
        return True
    try:
        return ipaddress.ip_address(config.db_host).is_loopback
    except ValueError:
        return False


def connect(config, timeout=3):
    kwargs = {
        "user": config.db_user,
        "password": config.db_password,
        "database": config.db_name,
        "charset": "utf8mb4",
        "connect_timeout": timeout,
        "read_timeout": 10,
        "write_timeout": 10,
        "autocommit": True,
        "cursorclass": pymysql.cursors.DictCursor,
    }
    # PyMySQL otherwise prefers TLS and builds a new default SSL context (reading the whole CA
    # bundle, ~20 ms) on every connection; a remote database keeps that default.
    if is_local(config):
        kwargs["ssl_disabled"] = True
    if config.db_socket:
        kwargs["unix_socket"] = config.db_socket
    else:
        kwargs["host"] = config.db_host
        kwargs["port"] = config.db_port
    return pymysql.connect(**kwargs)


def ping(config):
    conn = connect(config, timeout=2)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 AS ok")
            return cur.fetchone()["ok"] == 1
    finally:
        conn.close()


def list_messages(config, limit):
    conn = connect(config)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, name, message, created_at FROM messages ORDER BY id DESC LIMIT %s",
                (limit,),
            )
            return cur.fetchall()
    finally:
        conn.close()


def add_message(config, name, message):
    conn = connect(config)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO messages (name, message) VALUES (%s, %s)", (name, message))
            return cur.lastrowid
    finally:
        conn.close()
