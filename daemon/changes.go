//go:build linux

package daemon

import (
	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// changesPageSize bounds the changes one reply to changes carries
// (bytes): far inside wire.MaxFrameSize, so that a history of long
// descriptions (up to DefaultHistoryLen changes of two 4 KiB names each)
// comes in pages, and a page costs the daemon a bounded write. Tests make
// it small, to page through a short history.
var changesPageSize = 512 << 10

// changesPage is the reply to changes: cs less its first skip changes, as
// many as fit in changesPageSize and at least one, and More if some are
// left for the next request.
func changesPage(cs []keyring.Change, skip uint32, current uint64) wire.ChangesReply {
	cs = cs[min(uint64(skip), uint64(len(cs))):]
	res := wire.ChangesReply{Current: current}
	size := 0
	for i := range cs {
		w := wire.Change{
			Revision: cs[i].Revision, Key: int32(cs[i].Key), Subtype: uint32(cs[i].Subtype), Aux: int32(cs[i].Aux),
			Destroyed: cs[i].Destroyed, KeyType: cs[i].KeyType, KeyDescription: cs[i].KeyDescription,
			AuxType: cs[i].AuxType, AuxDescription: cs[i].AuxDescription,
		}
		if size += w.Size(); size > changesPageSize && i > 0 {
			res.More = true
			break
		}
		res.Changes = append(res.Changes, w)
	}
	return res
}

// nextPage is the request for the page after the changes got so far:
// those after the revision before the last one's, less the ones of the
// last one's revision already got, which come first. A commit's changes
// share a revision, and a page may end inside one.
func nextPage(req wire.ChangesRequest, got []keyring.Change) wire.ChangesRequest {
	last := got[len(got)-1].Revision
	n := uint32(0)
	for i := len(got) - 1; i >= 0 && got[i].Revision == last; i-- {
		n++
	}
	req.After, req.Skip = last-1, n
	return req
}

// change is w as the store gave it.
func change(w *wire.Change) keyring.Change {
	return keyring.Change{
		Revision: w.Revision, Key: keyring.Serial(w.Key), Subtype: watchqueue.KeySubtype(w.Subtype), Aux: keyring.Serial(w.Aux),
		Destroyed: w.Destroyed, KeyType: w.KeyType, KeyDescription: w.KeyDescription,
		AuxType: w.AuxType, AuxDescription: w.AuxDescription,
	}
}
