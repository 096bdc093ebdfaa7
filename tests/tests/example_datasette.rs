//! Example: datasette serving a SQLite database that the command line creates in `{tmp}`.
//!
//! A shell fills `{tmp}/db.sqlite` with Python's `sqlite3` module, then `exec`s datasette on it,
//! so every test gets its own database, removed at teardown. datasette comes from the
//! virtualenv that `scripts/install-test-deps.sh` sets up under `target/`.

use with_server::with_server;

#[with_server(
    cmd = r#"sh -c '
        datasette=../target/example-venv/bin/datasette
        if ! test -x "$datasette"; then
            echo "$datasette is missing: run scripts/install-test-deps.sh" >&2
            exit 1
        fi
        python3 -c "import sqlite3, sys; sqlite3.connect(sys.argv[1]).executescript(sys.argv[2])" \
            {tmp}/db.sqlite "$SEED_SQL" &&
        exec "$datasette" serve {tmp}/db.sqlite --host 127.0.0.1 --port "$PORT"
    '"#,
    env(SEED_SQL = "
        create table stations (id integer primary key, name text not null, opened integer);
        insert into stations (name, opened) values
            ('Baker Street', 1863), ('Canary Wharf', 1999), ('Angel', 1901);
    "),
    ready = http("/"),
    timeout = "60s"
)]
#[tokio::test]
async fn serves_the_rows_of_the_database_it_was_given(url: &str) {
    let rows = get(url, "/db/stations.json?_shape=array&opened__gt=1900").await;
    assert_eq!(
        rows,
        r#"[{"id": 2, "name": "Canary Wharf", "opened": 1999}, {"id": 3, "name": "Angel", "opened": 1901}]"#
    );

    let names = get(
        url,
        "/db.json?_shape=arrayfirst&sql=select+name+from+stations+order+by+opened",
    )
    .await;
    assert_eq!(names, r#"["Baker Street", "Angel", "Canary Wharf"]"#);
}

async fn get(base_url: &str, path: &str) -> String {
    let response = reqwest::get(format!("{base_url}{path}")).await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}
