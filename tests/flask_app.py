"""A small Flask app whose state lives in memory, so each test that starts it sees it fresh.

    GET  /items    the items as a JSON list of names
    POST /items    add one; the name comes from the form field or JSON field `name`
    GET  /health   204, empty

The port comes from `--port N`, else the environment variable PORT; it binds 127.0.0.1.

    python3 tests/flask_app.py --port 8000
"""

import argparse
import os

from flask import Flask, jsonify, request

app = Flask(__name__)
items = []


@app.get("/items")
def list_items():
    return jsonify(items)


@app.post("/items")
def add_item():
    payload = request.get_json(silent=True) or {}
    name = request.form.get("name") or payload.get("name")
    if not isinstance(name, str) or not name:
        return jsonify(error="a non-empty `name` is required"), 400
    items.append(name)
    return jsonify(name=name), 201


@app.get("/health")
def health():
    return "", 204


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    port = args.port if args.port is not None else int(os.environ.get("PORT", "0"))
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
