// Package apiclient is the Go client of a sealnet node's API and the API's
// request and response types. The CLI, package member and every other front
// end reach a node through it and nothing else; the server (package api)
// encodes the same types. It links no CometBFT, libp2p or boxo code (a
// test keeps it so), so a member's own machine carries none of the node.
// docs/API.md and the node's /openapi.json describe the routes.
package apiclient
