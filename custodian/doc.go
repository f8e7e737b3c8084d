// Package custodian is a node's custodian service in paper 002's data
// sharing: it keeps the data keys its org's members deposit, answers other
// companies' key requests for them under the owner's policy, and relays its
// own members' requests to the custodians of other orgs.
//
// One key request, from member A of org a to the custodian of org b:
//
//  1. A (package member) seals a signed request to the custodian's
//     certified key and POSTs it to its own node
//     (/v1/channels/{ch}/keyrequests); the API hands it to RequestKey.
//  2. RequestKey (client.go) opens a share.Protocol stream over libp2p to
//     the node whose key the custodian's certificate holds; the gates of
//     both nodes admit only enrolled members of a hosted channel.
//  3. The custodian's node (server.go) opens the request and checks
//     address, sender, signature, time window and nonce (share.Verifier).
//  4. It reads the committed index entry and whether it holds the key
//     (keys.go), and Decide (release.go) rules on the request: a pure
//     function of the entry, the request, the policy and the approvals.
//     Under the approval policy an undecided request waits in the queue
//     (queue.go) until an admin approves or denies it; the requester asks
//     again.
//  5. The answer, the key or a denial, is signed and sealed to A and
//     goes back over the stream and through A's node, which cannot open
//     it, to A; the custodian records the answer's hash on chain
//     (index.keyanswer).
package custodian
