// A Helia peer fetches one object from a sealnet node over bitswap:
//
//   node fetch.js MULTIADDR CID KEY [OUT]
//
// MULTIADDR is the node's address ending in /p2p/<peer ID>, KEY the hex of
// this peer's libp2p private key (protobuf), so that the node's operator
// can list its peer ID in p2p.allow_peers beforehand. It prints one JSON
// line: its peer ID, the bytes fetched, their SHA-256 and the CID it
// computes for them (CIDv1, raw leaves, 256 KiB chunks, balanced DAG of
// 174 links: Kubo's layout and sealnet's), or the error; it exits 1 on an
// error. Nothing but the given node is dialed: no bootstrap, no routing.
import './polyfill.js'
import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { createHeliaLight } from 'helia'
import { withLibp2pLight } from '@helia/libp2p'
import { withBitswap } from '@helia/bitswap'
import { unixfs } from '@helia/unixfs'
import { tcp } from '@libp2p/tcp'
import { identify } from '@libp2p/identify'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const [addr, cidText, keyHex, out] = process.argv.slice(2)
const timeoutMs = Number(process.env.FETCH_TIMEOUT_MS ?? 60000)

const helia = withBitswap(withLibp2pLight(createHeliaLight(), {
  privateKey: privateKeyFromProtobuf(Buffer.from(keyHex, 'hex')),
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify() }
}))
await helia.start()

const result = { peer_id: helia.libp2p.peerId.toString() }
try {
  const signal = AbortSignal.timeout(timeoutMs)
  setMaxListeners(Infinity, signal)
  const started = Date.now()
  await helia.libp2p.dial(multiaddr(addr), { signal })
  const chunks = []
  for await (const chunk of unixfs(helia).cat(CID.parse(cidText), { signal })) {
    chunks.push(chunk)
  }
  const data = Buffer.concat(chunks)
  result.ms = Date.now() - started
  result.bytes = data.length
  result.sha256 = createHash('sha256').update(data).digest('hex')
  let root
  const counting = { put: async (cid) => cid }
  for await (const entry of importer([{ content: data }], counting, {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: 262144 }),
    layout: balanced({ maxChildrenPerNode: 174 })
  })) {
    root = entry.cid
  }
  result.cid = root.toString()
  if (out) {
    await writeFile(out, data)
  }
} catch (err) {
  result.error = `${err.name}: ${err.message}`
}
console.log(JSON.stringify(result))
await helia.stop()
process.exit(result.error ? 1 : 0)
