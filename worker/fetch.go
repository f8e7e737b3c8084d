// Where a job's program and inputs are: their index entries (the
// custodian that holds their keys, the member that signed them) and their
// ciphertexts, fetched through the worker's node.

package worker

import (
	"context"
	"fmt"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/compute/runner"
	"github.com/sealnet/sealnet/contract/index"
	"github.com/sealnet/sealnet/contract/registry"
	"github.com/sealnet/sealnet/identity"
)

// entry returns the index entry of the object stored under cid by org,
// the requester's (a CID indexed by several is taken from org's entry).
func (w *Worker) entry(ctx context.Context, cid, org string) (*index.Entry, error) {
	res, err := apiclient.Query[index.FindResult](ctx, w.cfg.Client, w.cfg.Channel, index.Name, "by_cid", map[string]string{"cid": cid})
	if err != nil {
		return nil, err
	}
	for i := len(res.Entries) - 1; i >= 0; i-- {
		if e := res.Entries[i]; e.Holder == org && !e.Purged && e.Custodian != "" {
			return &e, nil
		}
	}
	return nil, fmt.Errorf("%s is not indexed by %s with a custodian (store it with 'sealnet data put')", cid, org)
}

func (w *Worker) certificate(ctx context.Context, fp string) (*identity.Member, error) {
	rec, err := apiclient.Query[registry.Cert](ctx, w.cfg.Client, w.cfg.Channel, registry.Name, "cert", registry.GetArgs{Fingerprint: fp})
	if err != nil {
		return nil, err
	}
	return identity.ParseMember(rec.DER)
}

// fetch returns the runner's fetch for a job of org: each object's
// ciphertext streamed from its custodian's node through this worker's
// node, with the member whose signature it must carry.
func (w *Worker) fetch(org string) runner.Fetch {
	return func(ctx context.Context, cid string) (runner.Object, error) {
		e, err := w.entry(ctx, cid, org)
		if err != nil {
			return runner.Object{}, err
		}
		owner, err := w.certificate(ctx, e.Creator)
		if err != nil {
			return runner.Object{}, fmt.Errorf("owner of %s: %w", cid, err)
		}
		body, err := w.cfg.Client.StoreGet(ctx, w.cfg.Channel, cid, e.Custodian)
		if err != nil {
			return runner.Object{}, err
		}
		return runner.Object{Data: body, Owner: owner}, nil
	}
}
