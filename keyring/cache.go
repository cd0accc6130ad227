//go:build linux

package keyring

import (
	"sync"
	"sync/atomic"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The read cache lets Read, Describe and Search answer from memory, as the
// kernel does, without a storage transaction, a record decode, a
// decryption or a walk of the keyrings.
//
// It holds committed state only. Entries are filled by readers from the
// snapshot they read; a fill is taken only if no commit has happened since
// that snapshot (the snapshot's revision is the cache's) and none is under
// way, so a reader racing a writer never installs something older than
// what the writer evicted.
//
// A write transaction evicts each key it touches, and advances graphGen
// for each change to the graph (links, masks, owners, flags, names), which
// retires every cached possession and search answer, as it makes them,
// before its commit (keystore.DB.OnChanging). Evicting after the commit
// would be too late: bbolt shows the commit to new readers first, and a
// reader who had read the new state could then be served the old one from
// the cache (TestReadCacheNeverGoesBackInTime caught it). The commit
// evicts again (keystore.Changes) and ends the window in which no fill is
// taken (keystore.DB.OnPending).

// readCache is a store's cache of key records and payloads.
type readCache struct {
	mu       sync.RWMutex
	rev      uint64 // revision of the last commit applied
	graphGen uint64 // one more for every change to the graph, committed or under way
	pending  bool   // a write transaction is changing things: take no fills
	keys     map[uint32]*cachedKey
}

// cachedKey is a committed key: its record and, once read, its payload.
// Immutable once in the cache, but for evicted, which a commit that
// changes the key sets, so that holders of the pointer (cached searches)
// can tell without looking the key up again.
type cachedKey struct {
	rec        keystore.KeyRecord
	payload    []byte
	hasPayload bool
	evicted    atomic.Bool
}

// maxCachedKeys bounds the cache. Past it the cache is emptied and refills
// with what is read: simple, and keyrings larger than this are rare.
const maxCachedKeys = 1 << 16

func newReadCache() *readCache { return &readCache{keys: map[uint32]*cachedKey{}} }

// apply evicts what a commit changed. It runs after the commit, before its
// notifications are delivered, so a watcher that reads on hearing of a
// change sees it.
func (c *readCache) apply(ch *keystore.Changes) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range ch.Keys {
		if ck := c.keys[k]; ck != nil {
			ck.evicted.Store(true)
		}
		delete(c.keys, k)
	}
	c.rev = ch.Revision
	if ch.Graph {
		c.graphGen++
	}
}

// changing evicts a key a write transaction is changing, or retires the
// graph's answers, before the commit (keystore.DB.OnChanging).
func (c *readCache) changing(serial uint32, graph bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ck := c.keys[serial]; ck != nil {
		ck.evicted.Store(true)
		delete(c.keys, serial)
	}
	if graph {
		c.graphGen++
	}
}

// setPending is told when a write transaction starts and stops changing
// things (keystore.DB.OnPending).
func (c *readCache) setPending(pending bool) {
	c.mu.Lock()
	c.pending = pending
	c.mu.Unlock()
}

// current reports whether a snapshot at revision rev is what the cache
// holds, with no change under way, and the graph generation to file
// answers from it under.
func (c *readCache) current(rev uint64) (bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return rev == c.rev && !c.pending, c.graphGen
}

// get returns a cached key and the graph generation it can be trusted with.
func (c *readCache) get(serial uint32) (*cachedKey, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[serial], c.graphGen
}

// fill offers what a reader read at revision rev, and returns it if taken.
// Entries dropped to bound the cache are not marked evicted: what they
// hold is still true.
func (c *readCache) fill(rev uint64, ck *cachedKey) *cachedKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev != c.rev || c.pending {
		return nil // a commit happened since the reader's snapshot, or may have
	}
	if len(c.keys) >= maxCachedKeys {
		clear(c.keys)
	}
	c.keys[ck.rec.Serial] = ck
	return ck
}

// currentGraph is the graph generation answers are computed against.
func (c *readCache) currentGraph() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.graphGen
}

// processCache holds a process's answers that depend on the graph:
// possession of keys and search results. All of it is valid for one graph
// revision.
type processCache struct {
	mu       sync.Mutex
	graphRev uint64 // the readCache graphGen the answers hold for
	// roots counts changes to the process's thread, process and session
	// keyrings, which possession is reckoned from: the answers hold for
	// one set of them, so a process that leaves a session does not keep
	// possessing its keys.
	roots     uint64
	possessed map[uint32]bool
	searches  map[searchKey]searchHit
}

// searchHit is a search's answer with the cached records of the keyring
// searched and the key found, whose expiry and eviction it is checked by.
type searchHit struct {
	ring, found *cachedKey
}

type searchKey struct {
	ring      Serial
	typ, desc string
}

func (pc *processCache) possession(serial uint32, graphRev uint64) (possessed, ok bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.graphRev != graphRev {
		return false, false
	}
	possessed, ok = pc.possessed[serial]
	return possessed, ok
}

// rootsChanged forgets every answer: the process's keyrings changed.
func (pc *processCache) rootsChanged() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.roots++
	pc.possessed, pc.searches = nil, nil
}

// rootsGen is the count of root changes, which a read transaction takes
// before it reckons possession and offers its answers with.
func (pc *processCache) rootsGen() uint64 {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.roots
}

func (pc *processCache) setPossession(serial uint32, possessed bool, graphRev, roots uint64) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if roots != pc.roots {
		return // reckoned from keyrings the process no longer has
	}
	pc.reset(graphRev)
	if pc.graphRev == graphRev && len(pc.possessed) < maxCachedKeys {
		pc.possessed[serial] = possessed
	}
}

func (pc *processCache) search(k searchKey, graphRev uint64) (searchHit, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.graphRev != graphRev {
		return searchHit{}, false
	}
	hit, ok := pc.searches[k]
	return hit, ok
}

func (pc *processCache) setSearch(k searchKey, hit searchHit, graphRev, roots uint64) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if roots != pc.roots {
		return
	}
	pc.reset(graphRev)
	if pc.graphRev == graphRev && len(pc.searches) < maxCachedKeys {
		pc.searches[k] = hit
	}
}

// reset starts over for a newer graph revision.
func (pc *processCache) reset(graphRev uint64) {
	if pc.possessed == nil || graphRev > pc.graphRev {
		pc.graphRev = graphRev
		pc.possessed = map[uint32]bool{}
		pc.searches = map[searchKey]searchHit{}
	}
}

// usable reports whether a cached key can answer without the slow path:
// positive and not expired. Anything else goes the slow way, which reports
// the precise error. The clock is read only for keys that expire: reading
// it costs more than the rest of a cached read on some machines.
func (ck *cachedKey) usable(s *Store) bool {
	r := &ck.rec
	if r.Flags&(keystore.FlagNegative|keystore.FlagRevoked|keystore.FlagInvalidated|keystore.FlagUnderConstruction) != 0 {
		return false
	}
	return r.Expiry == 0 || s.now().UnixNano() < r.Expiry
}

func (ck *cachedKey) subject() perms.Subject {
	return perms.Subject{UID: ck.rec.UID, GID: ck.rec.GID, Mask: perms.Mask(ck.rec.Perm)}
}
