package dcmb

// This file holds the webhook notifications: receiver actions, and the
// chain events addressed to this node's org ([notify]).

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/sealnet/sealnet/contract"
)

// Notice is the JSON body of every POST to a DCMB webhook: a contract event
// addressed to this node's org ([notify] webhook, Type "event") or a
// receiver's action that fired ([[receive]] webhook, Type "action"). The
// event fields are those of an item of the API's event stream.
type Notice struct {
	Type string `json:"type"` // "event" or "action"

	Channel string          `json:"channel,omitempty"`
	Height  int64           `json:"height,omitempty"`
	TxID    string          `json:"tx_id,omitempty"`
	Time    string          `json:"time,omitempty"` // block time, RFC 3339 with nanoseconds, UTC
	Event   *contract.Event `json:"event,omitempty"`

	Action string  `json:"action,omitempty"`
	Stream string  `json:"stream,omitempty"`
	Seq    *uint64 `json:"seq,omitempty"` // set on actions, message 0 included
}

// Notice types.
const (
	NoticeEvent  = "event"
	NoticeAction = "action"
)

func eventNotice(channel string, height int64, t time.Time, txID string, e contract.Event) Notice {
	return Notice{Type: NoticeEvent, Channel: channel, Height: height, Time: t.UTC().Format(time.RFC3339Nano), TxID: txID, Event: &e}
}

func actionNotice(action, stream string, seq uint64) Notice {
	return Notice{Type: NoticeAction, Action: action, Stream: stream, Seq: &seq}
}

// webhook POSTs JSON notifications in order, from a bounded queue, with a
// few retries; what it cannot deliver it logs (without the payload).
type webhook struct {
	url  string
	log  *slog.Logger
	q    chan Notice
	done chan struct{}
}

func newWebhook(url string, log *slog.Logger) *webhook {
	w := &webhook{url: url, log: log, q: make(chan Notice, 1024), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *webhook) post(v Notice) {
	select {
	case w.q <- v:
	default:
		w.log.Error("webhook queue full: a notification was not sent", "url", w.url)
	}
}

func (w *webhook) close() {
	close(w.q)
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
	}
}

func (w *webhook) run() {
	defer close(w.done)
	cl := &http.Client{Timeout: 5 * time.Second}
	for v := range w.q {
		body, _ := json.Marshal(v)
		var err error
		for try := 0; try < 3; try++ {
			var resp *http.Response
			resp, err = cl.Post(w.url, "application/json", bytes.NewReader(body))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode < 300 {
					break
				}
				err = &httpStatusError{resp.StatusCode}
			}
			time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
		}
		if err != nil {
			w.log.Warn("webhook failed", "url", w.url, "err", err)
		}
	}
}

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return http.StatusText(e.code) }

// notify forwards the channel's events addressed to this node's org to
// the [notify] webhook.
func (r *Runtime) notify(ctx context.Context) {
	w := newWebhook(r.cfg.Notify.Webhook, r.log)
	defer w.close()
	org := r.org
	blocks, stop := r.chain.Subscribe(256)
	defer func() { stop() }()
	for {
		select {
		case b, ok := <-blocks:
			if !ok {
				r.log.Error("event subscription fell behind; webhook notifications resume with new blocks")
				blocks, stop = r.chain.Subscribe(256)
				continue
			}
			for _, tx := range b.Txs {
				for _, e := range tx.Events {
					if e.To == org {
						w.post(eventNotice(r.chain.Name(), b.Height, b.Time, tx.ID.String(), e))
					}
				}
			}
		case <-ctx.Done():
			return
		}
	}
}
