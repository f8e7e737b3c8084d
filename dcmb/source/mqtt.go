package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTT subscribes to topics on a broker (Eclipse Paho client). It
// reconnects with backoff and resubscribes after every reconnection; with
// QoS 1 or 2 and a persistent session the broker keeps what arrives
// meanwhile. QoS 1 is at least once: after a reconnection the broker may
// deliver a message again; QoS 2 delivers exactly once.
type MQTT struct {
	Name     string
	Broker   string // tcp://host:port
	ClientID string // also the session name the broker keeps messages under
	Topics   []string
	QoS      byte
	Username string
	Password string
	Log      *slog.Logger
}

// Run implements Source.
func (m *MQTT) Run(ctx context.Context, out chan<- Message) error {
	if m.Broker == "" || len(m.Topics) == 0 || m.ClientID == "" {
		return errors.New("mqtt source: broker, client_id and topics are required")
	}
	if m.QoS > 2 {
		return fmt.Errorf("mqtt source: qos %d: want 0, 1 or 2", m.QoS)
	}
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	onMessage := func(_ mqtt.Client, msg mqtt.Message) {
		select {
		case out <- Message{Source: m.Name, Key: msg.Topic(), Value: msg.Payload(), Time: time.Now()}:
		case <-ctx.Done():
		}
	}
	filters := map[string]byte{}
	for _, t := range m.Topics {
		filters[t] = m.QoS
	}
	opts := mqtt.NewClientOptions().AddBroker(m.Broker).SetClientID(m.ClientID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(5 * time.Second).
		SetOrderMatters(true).SetDefaultPublishHandler(onMessage)
	if m.Username != "" {
		opts.SetUsername(m.Username).SetPassword(m.Password)
	}
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		log.Info("mqtt source connected", "source", m.Name, "broker", m.Broker)
		if tok := c.SubscribeMultiple(filters, onMessage); tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
			log.Error("mqtt subscribe", "source", m.Name, "err", tok.Error())
		}
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		log.Warn("mqtt source lost its broker, reconnecting", "source", m.Name, "err", err)
	})
	c := mqtt.NewClient(opts)
	c.Connect() // with ConnectRetry it keeps trying in the background
	<-ctx.Done()
	c.Disconnect(250)
	return nil
}
