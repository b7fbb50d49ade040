INSERT INTO messages (name, message) VALUES ('foobar', 'Welcome to the foobar guestbook: this row comes from MariaDB.');
