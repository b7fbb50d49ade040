"""Database access: one kept connection per worker thread, parameterised SQL only.

A request reuses its thread's connection (no new TCP and TLS handshake per request). A connection
that died since its last use (the server restarted, a load balancer moved the writer to another
node and shut the old sessions down) is noticed before the statement runs and replaced; a read that
fails on a connection lost mid-way is run once more on a new one. A write is never repeated: it may
have been committed before the connection went.
"""

import ipaddress
import ssl
import threading

import pymysql

_local = threading.local()
_ssl_lock = threading.Lock()
_ssl_context = None


def is_local(config):
    """True for the unix socket and loopback addresses: there TLS protects nothing."""
    if config.db_socket or config.db_host == "localhost":
        return True
    try:
        return ipaddress.ip_address(config.db_host).is_loopback
    except ValueError:
        return False


def shared_ssl_context():
    """One TLS context for the whole process: building one reads the CA bundle (~20 ms)."""
    global _ssl_context  # pylint: disable=global-statement
    with _ssl_lock:
        if _ssl_context is None:
            # PyMySQL's "preferred" TLS (no CA given): encrypted, the server's certificate unchecked.
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            _ssl_context = ctx
        return _ssl_context


class _Connection(pymysql.connections.Connection):
    """PyMySQL's connection, with TLS "preferred" built from the process's one context."""

    def _create_ssl_ctx(self, sslp):
        if not sslp:
            return shared_ssl_context()
        return super()._create_ssl_ctx(sslp)


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
    if is_local(config):
        kwargs["ssl_disabled"] = True
    if config.db_socket:
        kwargs["unix_socket"] = config.db_socket
    else:
        kwargs["host"] = config.db_host
        kwargs["port"] = config.db_port
    return _Connection(**kwargs)


def _drop():
    conn = getattr(_local, "conn", None)
    _local.conn = None
    if conn is not None:
        try:
            conn.close()
        except pymysql.err.Error:
            pass


def _connection(config):
    """This thread's connection, checked with a ping (one round trip) and replaced when dead."""
    conn = getattr(_local, "conn", None)
    if conn is not None:
        try:
            conn.ping(reconnect=False)
            return conn
        except (pymysql.err.Error, OSError):
            _drop()
    _local.conn = connect(config)
    return _local.conn


def _run(config, sql, args, fetch, retry):
    for attempt in (1, 2):
        conn = _connection(config)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return fetch(cur)
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError):
            _drop()
            if not retry or attempt == 2:
                raise
    raise AssertionError("unreachable")


def ping(config):
    return _run(config, "SELECT 1 AS ok", None, lambda cur: cur.fetchone()["ok"] == 1, retry=True)


def list_messages(config, limit):
    return _run(
        config,
        "SELECT id, name, message, created_at FROM messages ORDER BY id DESC LIMIT %s",
        (limit,),
        lambda cur: cur.fetchall(),
        retry=True,
    )


def add_message(config, name, message):
    return _run(
        config,
        "INSERT INTO messages (name, message) VALUES (%s, %s)",
        (name, message),
        lambda cur: cur.lastrowid,
        retry=False,
    )
