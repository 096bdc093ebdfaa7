// A small Node.js server with no npm packages, for the Node example.
//
//   GET /health   204
//   GET /         200, JSON: {"runtime":"node","version":"v20...","path":"/"}
//   GET /<path>   the same JSON, with that path
//
// It listens on 127.0.0.1 at $PORT.
//
//   PORT=8000 node tests/examples/server.js

"use strict";

const http = require("node:http");

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const server = http.createServer((request, response) => {
  if (request.url === "/health") {
    response.writeHead(204).end();
    return;
  }
  const body = JSON.stringify({ runtime: "node", version: process.version, path: request.url });
  response.writeHead(200, { "content-type": "application/json" }).end(body);
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
