// Package machine simulates a production machine's OPC UA server (gopcua's
// server package) for the demo: one work-piece counter, ns=N;s=WorkpieceCounter.
// The tests read the counter from node-opcua's server instead, an
// implementation independent of the client.
package machine

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"sync/atomic"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
)

// Machine is a running simulated machine.
type Machine struct {
	srv     *server.Server
	ns      *server.NodeNameSpace
	node    *ua.NodeID
	port    int
	counter atomic.Uint32
}

type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

// Start serves the machine on 127.0.0.1 (port 0 picks a free one) with
// security None and anonymous access, its counter at start.
func Start(port int, start uint32) (*Machine, error) {
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	m := &Machine{port: port}
	m.counter.Store(start)
	// the server package reports its node-set loading on the standard logger
	w := log.Writer()
	log.SetOutput(io.Discard)
	defer log.SetOutput(w)
	m.srv = server.New(server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous), server.EndPoint("127.0.0.1", port), server.SetLogger(quiet{}))
	if err := m.srv.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("simulated machine: %w", err)
	}
	m.ns = server.NewNodeNameSpace(m.srv, "Machine")
	root, err := m.srv.Namespace(0)
	if err != nil {
		m.srv.Close()
		return nil, err
	}
	objs := m.ns.Objects()
	root.(*server.NodeNameSpace).Objects().AddRef(objs, id.HasComponent, true)
	v := m.ns.AddNewVariableStringNode("WorkpieceCounter", func() *ua.DataValue {
		return server.DataValueFromValue(m.counter.Load())
	})
	objs.AddRef(v, id.HasComponent, true)
	m.node = v.ID()
	return m, nil
}

// Endpoint is the machine's OPC UA endpoint URL.
func (m *Machine) Endpoint() string { return fmt.Sprintf("opc.tcp://127.0.0.1:%d", m.port) }

// NodeID is the counter's node ID.
func (m *Machine) NodeID() string { return m.node.String() }

// Set changes the counter and notifies subscribers.
func (m *Machine) Set(v uint32) {
	m.counter.Store(v)
	m.ns.ChangeNotification(m.node)
}

// Close stops the server.
func (m *Machine) Close() error { return m.srv.Close() }
