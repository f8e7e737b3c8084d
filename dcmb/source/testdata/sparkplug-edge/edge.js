// A Sparkplug B edge node built with Eclipse Tahu's JavaScript client
// (sparkplug-client, sparkplug-payload), independent of sealnet's host.
// It is press 7 (group GROUP, edge node EDGE) with one device, Hydraulics.
//
// Environment: BROKER (mqtt://127.0.0.1:PORT), GROUP, EDGE, USERNAME,
// PASSWORD. It prints CONNECTED, BIRTH after each set of births, REBIRTH
// when a host asks for one (NCMD Node Control/Rebirth), and OK CMD after
// each command read from stdin, one a line:
//   ndata N        NDATA WorkpieceCounter = N, by its alias
//   ddata X        DDATA Hydraulics Pressure = X, by its alias
//   gap N          skip N sequence numbers (as if N messages were lost)
//   alias A N      NDATA with a metric alias A that no birth defined
//   garbage        a payload that is not a Sparkplug payload, on NDATA
//   quit           publish NDEATH and end
const sparkplug = require("sparkplug-client");
const readline = require("readline");

const group = process.env.GROUP || "Plant1";
const edge = process.env.EDGE || "Press7";
const device = "Hydraulics";
let counter = 5290;
let pressure = 180.5;

const client = sparkplug.newClient({
  serverUrl: process.env.BROKER,
  username: process.env.USERNAME || "",
  password: process.env.PASSWORD || "",
  groupId: group,
  edgeNode: edge,
  clientId: "edge-" + edge,
  publishDeath: true,
  version: "spBv1.0",
});

function births() {
  client.publishNodeBirth({
    timestamp: Date.now(),
    metrics: [
      { name: "Node Control/Rebirth", type: "Boolean", value: false },
      { name: "WorkpieceCounter", alias: 1, type: "UInt32", value: counter },
      { name: "Temperature", alias: 2, type: "Double", value: 61.25 },
    ],
  });
  client.publishDeviceBirth(device, {
    timestamp: Date.now(),
    metrics: [{ name: "Pressure", alias: 10, type: "Float", value: pressure }],
  });
  console.log("BIRTH");
}

client.on("connect", () => console.log("CONNECTED"));
client.on("error", (err) => console.log("ERROR " + err.message));
client.on("birth", births);
client.on("ncmd", (payload) => {
  for (const m of payload.metrics || []) {
    if (m.name === "Node Control/Rebirth" && m.value) {
      console.log("REBIRTH");
      births();
    }
  }
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  switch (cmd) {
    case "ndata":
      counter = parseInt(a, 10);
      client.publishNodeData({ timestamp: Date.now(), metrics: [{ alias: 1, type: "UInt32", value: counter }] });
      break;
    case "ddata":
      pressure = parseFloat(a);
      client.publishDeviceData(device, { timestamp: Date.now(), metrics: [{ alias: 10, type: "Float", value: pressure }] });
      break;
    case "gap":
      client.seq = (client.seq + parseInt(a, 10)) % 256; // the client keeps its sequence number here
      break;
    case "alias":
      client.publishNodeData({ timestamp: Date.now(), metrics: [{ alias: parseInt(a, 10), type: "UInt32", value: parseInt(b, 10) }] });
      break;
    case "garbage":
      client.client.publish("spBv1.0/" + group + "/NDATA/" + edge, Buffer.from("{\"counter\": 5300}"));
      break;
    case "quit":
      client.stop();
      setTimeout(() => process.exit(0), 200);
      break;
    default:
      console.log("UNKNOWN " + line);
      return;
  }
  console.log("OK " + cmd);
});
