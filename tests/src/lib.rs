//! Fixture servers and tests of with-server; nothing here is published.
