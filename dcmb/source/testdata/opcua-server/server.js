// An OPC UA server built with node-opcua, independent of sealnet's client:
// it simulates a machine whose work-piece counter (s=WorkpieceCounter in
// the server's own namespace) starts at COUNTER_START and grows by one
// every COUNTER_MS milliseconds.
//
// Security, from the environment:
//   POLICIES  comma-separated security policies offered (default: None,
//             Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss)
//   MODES     comma-separated message security modes (default: None, Sign,
//             SignAndEncrypt)
//   USERS     user:password pairs, comma-separated, admitted by user name
//   ANONYMOUS "0" refuses anonymous sessions (default: admitted)
// The server's own certificate is self-signed and generated under
// PKI_DIR/server; unknown client application certificates are accepted.
// X.509 user certificates are accepted only if they are in
// PKI_DIR/user/trusted/certs when the server starts.
// It prints "CERT <base64 DER of its certificate>", then
// "READY <endpoint> ns=<index>" once it listens.
const os = require("os");
const path = require("path");
const { OPCUAServer } = require("node-opcua-server");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");
const { Variant, DataType } = require("node-opcua-variant");
const { MessageSecurityMode, SecurityPolicy } = require("node-opcua-secure-channel");

const port = parseInt(process.argv[2] || process.env.PORT || "4840", 10);
const start = parseInt(process.env.COUNTER_START || "5290", 10);
const every = parseInt(process.env.COUNTER_MS || "50", 10);
const pki = process.env.PKI_DIR || path.join(os.tmpdir(), "sealnet-opcua-pki-" + port);
const list = (v, def) => (v || def).split(",").map((s) => s.trim()).filter(Boolean);
const policies = list(process.env.POLICIES, "None,Basic256Sha256,Aes128_Sha256_RsaOaep,Aes256_Sha256_RsaPss").map((p) => {
  if (!(p in SecurityPolicy)) throw new Error("unknown policy " + p);
  return SecurityPolicy[p];
});
const modes = list(process.env.MODES, "None,Sign,SignAndEncrypt").map((m) => {
  if (!(m in MessageSecurityMode)) throw new Error("unknown mode " + m);
  return MessageSecurityMode[m];
});
const users = new Map(list(process.env.USERS, "").map((u) => {
  const i = u.indexOf(":");
  return [u.slice(0, i), u.slice(i + 1)];
}));

async function main() {
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "server"),
    automaticallyAcceptUnknownCertificate: true,
  });
  const userCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "user"),
    automaticallyAcceptUnknownCertificate: false,
  });
  const server = new OPCUAServer({
    port,
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1"],
    resourcePath: "/",
    serverCertificateManager,
    userCertificateManager,
    securityModes: modes,
    securityPolicies: policies,
    allowAnonymous: process.env.ANONYMOUS !== "0",
    userManager: { isValidUser: (name, password) => users.has(name) && users.get(name) === password },
    buildInfo: { productName: "sealnet test machine" },
  });
  await server.initialize();
  const ns = server.engine.addressSpace.getOwnNamespace();
  const machine = ns.addObject({ organizedBy: server.engine.addressSpace.rootFolder.objects, browseName: "Machine" });
  let counter = start;
  const variable = ns.addVariable({
    componentOf: machine,
    nodeId: "s=WorkpieceCounter",
    browseName: "WorkpieceCounter",
    dataType: "UInt32",
    value: { dataType: DataType.UInt32, value: counter },
  });
  setInterval(() => {
    counter += 1;
    variable.setValueFromSource(new Variant({ dataType: DataType.UInt32, value: counter }));
  }, every);
  await server.start();
  const endpoint = server.getEndpointUrl();
  process.stdout.write("CERT " + Buffer.from(server.getCertificate()).toString("base64") + "\n");
  process.stdout.write("READY " + endpoint + " ns=" + ns.index + "\n");
  const stop = async () => {
    await server.shutdown(0);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  process.stderr.write("opcua test server: " + (err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
