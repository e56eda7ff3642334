// Send events to ingest through the Events Protocol's official JS client, as an app would.
// Reads [{hostname, event, payload, token}, ...] as JSON on stdin (`event` is the client's
// "name" or "name:vN"); writes, for each call, what the client sent and what the app got back:
// the response event, or the error the client threw. Its EventError (an error event) and
// HttpError (any non-2xx answer, whose event is lost) reach the app as plain Errors (the
// package's ES5 classes lose their prototypes), told apart by `code`: the answer's kind, or the
// HTTP status.
"use strict";

// The package's "main" (lib/index.js) is not in its tarball: its modules are required by path.
const client = require("@guiabolsobr/events-protocol/client").default;

async function send(call) {
  const sent = [];
  const fetchEvent = client.generateFetchEventByName({
    hostname: call.hostname, // the client posts to `${hostname}/events/`
    // The default session id comes from window.sessionStorage, which Node has not.
    eventCreator: (event) => client.createEvent(event, { localUuidResolver: () => "compat-session" }),
    fetchResolver: (url, init) => {
      sent.push(JSON.parse(init.body));
      return fetch(url, init);
    },
  });
  const auth = call.token === undefined ? {} : { token: call.token };
  try {
    const event = await fetchEvent(call.event, call.payload, { auth });
    return { sent: sent[0], outcome: "event", name: event.name, flowId: event.flowId, payload: event.payload };
  } catch (error) {
    return {
      sent: sent[0],
      outcome: "thrown",
      code: error.code,
      message: error.message,
      flowId: error.flowId,
      payload: error.payload,
    };
  }
}

async function main() {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const results = [];
  for (const call of JSON.parse(input)) results.push(await send(call));
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
