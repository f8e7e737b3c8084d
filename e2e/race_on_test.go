//go:build race

package e2e

// raceEnabled: the tests run with the race detector, and so do the node
// processes they start.
const raceEnabled = true
