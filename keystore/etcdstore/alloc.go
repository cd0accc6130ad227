//go:build linux

package etcdstore

import (
	"context"
	"encoding/binary"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// rowBlock is how many rows a host takes for new keys at a time: a commit
// that takes them is one more round trip, once per this many new keys.
const rowBlock = 256

// rowAllocator hands out rows for new keys from a block this host took
// from the store's counter row (P/a) by compare-and-swap, so that two
// hosts never offer the same row and new keys need no shared counter in
// their commits.
type rowAllocator struct {
	e        *engine
	mu       sync.Mutex
	next, to uint32 // the block: rows next..to-1 are this host's to offer
}

// offer offers the next row of the block, taking a new block when it is
// used up. A row offered is never offered again by this host until the
// counter wraps, even if the transaction did not take it or rolled back.
func (a *rowAllocator) offer() (uint32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.next >= a.to || !inRowRange(a.next) {
		if err := a.take(); err != nil {
			return 0, err
		}
	}
	a.next++
	return a.next - 1, nil
}

// take takes the next block of rows from the counter row.
func (a *rowAllocator) take() error {
	key := a.e.prefix + "a"
	ctx, cancel := context.WithTimeout(context.Background(), a.e.timeout)
	defer cancel()
	for {
		resp, err := a.e.cli.Get(ctx, key)
		if err != nil {
			return a.e.requestError("take rows", err)
		}
		from, mod := uint32(keystore.MinSerial), int64(0)
		if len(resp.Kvs) == 1 && len(resp.Kvs[0].Value) == 4 {
			from, mod = binary.BigEndian.Uint32(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
		}
		to := from + rowBlock
		if !inRowRange(from) || !inRowRange(to) {
			from, to = keystore.MinSerial, keystore.MinSerial+rowBlock // wrapped: freed rows are offered again
		}
		t, err := a.e.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", mod)).
			Then(clientv3.OpPut(key, string(binary.BigEndian.AppendUint32(nil, to)))).Commit()
		if err != nil {
			return a.e.requestError("take rows", err)
		}
		if t.Succeeded {
			a.next, a.to = from, to
			return nil
		}
	}
}

// inRowRange reports whether row is one a key may have: rows are numbered
// as serials are (keystore.MinSerial to MaxSerial).
func inRowRange(row uint32) bool { return row >= keystore.MinSerial && row <= keystore.MaxSerial }
