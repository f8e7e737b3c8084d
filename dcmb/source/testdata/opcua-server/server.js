// An OPC UA server built with node-opcua, independent of sealnet's client:
// it simulates a machine whose work-piece counter (ns=1;s=WorkpieceCounter)
// starts at COUNTER_START and grows by one every COUNTER_MS milliseconds.
// It offers security None and Basic256Sha256 SignAndEncrypt with a
// self-signed certificate, accepts unknown client certificates, and prints
// "READY <endpoint>" once it listens.
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

async function main() {
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "server"),
    automaticallyAcceptUnknownCertificate: true,
  });
  const userCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "user"),
    automaticallyAcceptUnknownCertificate: true,
  });
  const server = new OPCUAServer({
    port,
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1"],
    resourcePath: "/",
    serverCertificateManager,
    userCertificateManager,
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
    allowAnonymous: true,
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
