"""The salt of the client hashes (web/database.py `client_hash`), never kept in the database.

A correction keeps an HMAC of its client's address. With the salt in the same database, a copy
of it was enough to find every IPv4 address behind the hashes by trying all 2**32 of them; so
the salt lives apart from the data:

- DIGITPAD_CLIENT_SALT, where it is set (every server sharing a database sets the same);
- else, with SQLite (`make run`), a salt made once and kept in the instance folder, in a file
  only its owner may read (mode 600);
- else (PostgreSQL or any other server database) the app refuses to start and says to set it.
"""

import os
import secrets
from pathlib import Path

from web.settings import SettingError

SALT_FILE = "client-salt"


def client_salt(app, database_url):
    """The salt for this app, made and kept in the instance folder if needs be (SQLite only)."""
    if app.config.get("CLIENT_SALT"):
        return app.config["CLIENT_SALT"]
    if not database_url.startswith("sqlite"):
        raise SettingError(
            "Set DIGITPAD_CLIENT_SALT (for example to the output of `python -c \"import secrets; "
            "print(secrets.token_hex(32))\"`, the same for every server sharing the database): the "
            "salt of the client hashes is never kept in the database, and only with SQLite is one made "
            "in the instance folder."
        )
    return instance_salt(Path(app.instance_path))


def instance_salt(folder):
    """The salt kept in `folder`, made there first if there is none (mode 600).

    Written to a file of its own, then linked to its name: a worker starting at the same time
    either makes the link or finds the complete file, never a half-written one.
    """
    path = folder / SALT_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / f".{SALT_FILE}-{os.getpid()}-{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:  # Another worker was first: its salt is the one.
            pass
        finally:
            draft.unlink()
    salt = path.read_text().strip()
    if len(salt) < 32:
        raise SettingError(f"{path} holds no salt: delete it to have a new one made, or set DIGITPAD_CLIENT_SALT.")
    return salt
