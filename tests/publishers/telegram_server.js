// Starts telegram-test-api (installed by .ci/install-peers.sh; found through
// NODE_PATH) on 127.0.0.1 at the port given as the only argument, until SIGTERM.
const TelegramServer = require("telegram-test-api");

const port = Number(process.argv[2]);
// Messages are kept for an hour: the tests read them back through /getUpdatesHistory.
const server = new TelegramServer({ port, host: "127.0.0.1", storeTimeout: 3600 });

server.start().then(
  () => console.log(`listening on ${server.config.apiURL}`),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));
