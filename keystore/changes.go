package keystore

// Changes is what one committed write transaction changed, for caches kept
// above the store.
type Changes struct {
	// Revision is the store's revision after the transaction.
	Revision uint64
	// Keys are the serials whose record or payload changed or went away.
	Keys map[uint32]bool
	// Graph says links, names, or a key's type, owner, mask, flags or
	// expiry changed: anything possession, permission or search depends on.
	Graph bool
}

// OnChange sets fn to be told of every committed write transaction that
// changed something, after the commit and before any OnCommit handler of
// the transaction's callers, in commit order, in the committer's
// goroutine. Set it once, before the first Update.
func (db *DB) OnChange(fn func(*Changes)) { db.onChange = fn }

// changes returns the record of what this write transaction changes, made
// on first use, and arranges for it to be reported when the transaction
// commits.
func (tx *Tx) changes() *Changes {
	db := tx.db
	if db.changesFor != tx.btx {
		// The revision is read now: OnCommit runs after the transaction
		// has closed. NextRevision keeps it current.
		ch := &Changes{Keys: map[uint32]bool{}, Revision: tx.Revision()}
		db.changesFor, db.changed = tx.btx, ch
		tx.btx.OnCommit(func() {
			if db.onChange != nil {
				db.onChange(ch)
			}
		})
	}
	return db.changed
}

func (tx *Tx) touchKey(serial uint32) { tx.changes().Keys[serial] = true }
func (tx *Tx) touchGraph()            { tx.changes().Graph = true }
