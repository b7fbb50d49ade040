"""Apply the SQL migrations in migrations/ once each, in order; safe to run again.

Prints `applied: <names>` or `up to date`; exits non-zero (leaving later migrations untouched)
when one fails. Usage: python -m foobar_app.migrate [--config PATH]
"""

import argparse
import pathlib
import sys

from . import config as app_config
from . import db

MIGRATIONS = pathlib.Path(__file__).with_name("migrations")


def statements(sql):
    return [part.strip() for part in sql.split(";") if part.strip()]


def migrate(config):
    conn = db.connect(config, timeout=10)
    applied = []
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name VARCHAR(190) NOT NULL PRIMARY KEY,"
                " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
                ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            )
            cur.execute("SELECT name FROM schema_migrations")
            done = {row["name"] for row in cur.fetchall()}
            for path in sorted(MIGRATIONS.glob("*.sql")):
                if path.name in done:
                    continue
                for statement in statements(path.read_text(encoding="utf-8")):
                    cur.execute(statement)
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                applied.append(path.name)
    finally:
        conn.close()
    return applied


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=None)
    args = parser.parse_args(argv)
    applied = migrate(app_config.load(args.config))
    print("applied: " + " ".join(applied) if applied else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
